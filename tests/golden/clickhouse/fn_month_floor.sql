-- case: fn_month_floor
-- kind: value
-- dialect: clickhouse
-- input: month_floor_timestamp_millis(timestamp_millis)
arrayMap(_mq_v6 -> _mq_v6 + throwIf(ifNull(abs(_mq_v6) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(arrayMap(_mq_v1 -> arrayMap(_mq_v2 -> arrayMap(_mq_v3 -> arrayMap(_mq_v4 -> arrayMap(_mq_v5 -> ((_mq_v1 - _mq_v5) + intDiv(((153 * intDiv(((5 * _mq_v5) + 2), 153)) + 2), 5)) * 86400000, [_mq_v3 - (((365 * _mq_v4) + intDiv(_mq_v4, 4)) - intDiv(_mq_v4, 100))])[1], [intDiv((((_mq_v3 - intDiv(_mq_v3, 1460)) - intDiv(_mq_v3, 146096)) + intDiv(_mq_v3, 36524)), 365)])[1], [_mq_v2 - (intDiv((_mq_v2 - (((_mq_v2 % 146097) + 146097) % 146097)), 146097) * 146097)])[1], [_mq_v1 + 719468])[1], [intDiv((ts - (((ts % 86400000) + 86400000) % 86400000)), 86400000)])[1], 12)])[1]
