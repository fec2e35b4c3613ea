-- case: literal_boolean
-- kind: filter
-- dialect: duckdb
-- input: true
TRUE
