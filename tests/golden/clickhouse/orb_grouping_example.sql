-- case: orb_grouping_example
-- kind: grouping_key
-- dialect: clickhouse
-- input: hour_floor_timestamp_millis(timestamp_millis)
arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(ts - (((ts % 3600000) + 3600000) % 3600000), 12)])[1]
