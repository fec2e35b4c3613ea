-- case: is_null
-- kind: filter
-- dialect: clickhouse
-- input: region IS NULL
ps['region'] IS NULL
