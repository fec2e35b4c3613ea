-- case: fn_floor
-- kind: value
-- dialect: clickhouse
-- input: floor(a, 1)
arrayMap(_mq_v2 -> _mq_v2 + throwIf(ifNull(abs(_mq_v2) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [floor(arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(pn['a'], 12)])[1], 1)])[1]
