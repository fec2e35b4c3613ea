-- case: fn_month_floor
-- kind: value
-- dialect: duckdb
-- input: month_floor_timestamp_millis(timestamp_millis)
CAST(LIST_TRANSFORM([CAST(FLOOR(CAST(ts AS DECIMAL(38, 12))) AS INT128)], LAMBDA _mq_v1 : LIST_TRANSFORM([DIVIDE((_mq_v1 - (((_mq_v1 % 86400000) + 86400000) % 86400000)), 86400000)], LAMBDA _mq_v2 : LIST_TRANSFORM([_mq_v2 + 719468], LAMBDA _mq_v3 : LIST_TRANSFORM([_mq_v3 - (DIVIDE((_mq_v3 - (((_mq_v3 % 146097) + 146097) % 146097)), 146097) * 146097)], LAMBDA _mq_v4 : LIST_TRANSFORM([DIVIDE((((_mq_v4 - DIVIDE(_mq_v4, 1460)) - DIVIDE(_mq_v4, 146096)) + DIVIDE(_mq_v4, 36524)), 365)], LAMBDA _mq_v5 : LIST_TRANSFORM([_mq_v4 - (((365 * _mq_v5) + DIVIDE(_mq_v5, 4)) - DIVIDE(_mq_v5, 100))], LAMBDA _mq_v6 : ((_mq_v2 - _mq_v6) + DIVIDE(((153 * DIVIDE(((5 * _mq_v6) + 2), 153)) + 2), 5)) * 86400000)[1])[1])[1])[1])[1])[1] AS DECIMAL(38, 12))
