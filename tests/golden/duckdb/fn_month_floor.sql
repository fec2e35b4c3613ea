-- case: fn_month_floor
-- kind: value
-- dialect: duckdb
-- input: month_floor_timestamp_millis(timestamp_millis)
CAST(CAST(EPOCH_MS(DATE_TRUNC('month', EPOCH_MS(ts))) AS INT128) AS DECIMAL(38, 12))
