-- case: fn_week_floor
-- kind: value
-- dialect: duckdb
-- input: week_floor_timestamp_millis(timestamp_millis)
CAST((ts - ((((ts - (-259200000)) % 604800000) + 604800000) % 604800000)) AS DECIMAL(38, 12))
