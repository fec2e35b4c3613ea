-- case: fn_hour_floor
-- kind: value
-- dialect: duckdb
-- input: hour_floor_timestamp_millis(timestamp_millis)
CAST((ts - (((ts % 3600000) + 3600000) % 3600000)) AS DECIMAL(38, 12))
