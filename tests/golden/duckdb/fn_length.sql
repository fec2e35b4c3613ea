-- case: fn_length
-- kind: value
-- dialect: duckdb
-- input: length(region)
CAST(LENGTH(ps['region']) AS DECIMAL(38, 12))
