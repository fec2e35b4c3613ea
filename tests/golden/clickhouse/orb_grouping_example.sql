-- case: orb_grouping_example
-- kind: grouping_key
-- dialect: clickhouse
-- input: hour_floor_timestamp_millis(timestamp_millis)
arrayMap(_mq_v2 -> _mq_v2 + throwIf(ifNull(abs(_mq_v2) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(arrayMap(_mq_v1 -> _mq_v1 - (((_mq_v1 % 3600000) + 3600000) % 3600000), [toInt256(floor(toDecimal256(ts, 12)))])[1], 12)])[1]
