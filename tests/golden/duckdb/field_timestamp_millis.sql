-- case: field_timestamp_millis
-- kind: value
-- dialect: duckdb
-- input: timestamp_millis
CAST(ts AS DECIMAL(38, 12))
