-- case: fn_month_floor
-- kind: value
-- dialect: clickhouse
-- input: month_floor_timestamp_millis(timestamp_millis)
arrayMap(_mq_v7 -> _mq_v7 + throwIf(ifNull(abs(_mq_v7) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(arrayMap(_mq_v1 -> arrayMap(_mq_v2 -> arrayMap(_mq_v3 -> arrayMap(_mq_v4 -> arrayMap(_mq_v5 -> arrayMap(_mq_v6 -> ((_mq_v2 - _mq_v6) + intDiv(((153 * intDiv(((5 * _mq_v6) + 2), 153)) + 2), 5)) * 86400000, [_mq_v4 - (((365 * _mq_v5) + intDiv(_mq_v5, 4)) - intDiv(_mq_v5, 100))])[1], [intDiv((((_mq_v4 - intDiv(_mq_v4, 1460)) - intDiv(_mq_v4, 146096)) + intDiv(_mq_v4, 36524)), 365)])[1], [_mq_v3 - (intDiv((_mq_v3 - (((_mq_v3 % 146097) + 146097) % 146097)), 146097) * 146097)])[1], [_mq_v2 + 719468])[1], [intDiv((_mq_v1 - (((_mq_v1 % 86400000) + 86400000) % 86400000)), 86400000)])[1], [toInt256(floor(toDecimal256(ts, 12)))])[1], 12)])[1]
