-- case: fn_week_floor
-- kind: value
-- dialect: clickhouse
-- input: week_floor_timestamp_millis(timestamp_millis)
arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(ts - ((((ts - (-259200000)) % 604800000) + 604800000) % 604800000), 12)])[1]
