-- case: fn_hour_floor
-- kind: value
-- dialect: duckdb
-- input: hour_floor_timestamp_millis(timestamp_millis)
CAST(LIST_TRANSFORM([CAST(FLOOR(CAST(ts AS DECIMAL(38, 12))) AS INT128)], LAMBDA _mq_v1 : _mq_v1 - (((_mq_v1 % 3600000) + 3600000) % 3600000))[1] AS DECIMAL(38, 12))
