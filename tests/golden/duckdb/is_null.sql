-- case: is_null
-- kind: filter
-- dialect: duckdb
-- input: region IS NULL
ps['region'] IS NULL
