-- case: fn_month_floor
-- kind: value
-- dialect: duckdb
-- input: month_floor_timestamp_millis(timestamp_millis)
CAST((CASE WHEN (ts >= (-62135596800000) AND ts <= 253402300799999) THEN CAST(EPOCH_MS(DATE_TRUNC('month', EPOCH_MS(CAST(ts AS BIGINT)))) AS INT128) ELSE LIST_TRANSFORM([DIVIDE((ts - (((ts % 86400000) + 86400000) % 86400000)), 86400000)], LAMBDA _mq_v1 : LIST_TRANSFORM([_mq_v1 + 719468], LAMBDA _mq_v2 : LIST_TRANSFORM([_mq_v2 - (DIVIDE((_mq_v2 - (((_mq_v2 % 146097) + 146097) % 146097)), 146097) * 146097)], LAMBDA _mq_v3 : LIST_TRANSFORM([DIVIDE((((_mq_v3 - DIVIDE(_mq_v3, 1460)) - DIVIDE(_mq_v3, 146096)) + DIVIDE(_mq_v3, 36524)), 365)], LAMBDA _mq_v4 : LIST_TRANSFORM([_mq_v3 - (((365 * _mq_v4) + DIVIDE(_mq_v4, 4)) - DIVIDE(_mq_v4, 100))], LAMBDA _mq_v5 : ((_mq_v1 - _mq_v5) + DIVIDE(((153 * DIVIDE(((5 * _mq_v5) + 2), 153)) + 2), 5)) * 86400000)[1])[1])[1])[1])[1] END) AS DECIMAL(38, 12))
