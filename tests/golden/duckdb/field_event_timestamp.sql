-- case: field_event_timestamp
-- kind: value
-- dialect: duckdb
-- input: event.timestamp
CAST((CAST(ts AS DECIMAL(38, 0)) * CAST('0.001' AS DECIMAL(38, 3))) AS DECIMAL(38, 12))
