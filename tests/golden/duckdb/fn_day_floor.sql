-- case: fn_day_floor
-- kind: value
-- dialect: duckdb
-- input: day_floor_timestamp_millis(timestamp_millis)
CAST(LIST_TRANSFORM([CAST(FLOOR(CAST(ts AS DECIMAL(38, 12))) AS INT128)], LAMBDA _mq_v1 : _mq_v1 - (((_mq_v1 % 86400000) + 86400000) % 86400000))[1] AS DECIMAL(38, 12))
