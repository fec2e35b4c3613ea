-- case: fn_day_floor
-- kind: value
-- dialect: duckdb
-- input: day_floor_timestamp_millis(timestamp_millis)
CAST((ts - (((ts % 86400000) + 86400000) % 86400000)) AS DECIMAL(38, 12))
