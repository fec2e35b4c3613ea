-- case: mul
-- kind: value
-- dialect: clickhouse
-- input: a * b
arrayMap(_mq_v3 -> _mq_v3 + throwIf(ifNull(abs(_mq_v3) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(round(arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(pn['a'], 12)])[1] * arrayMap(_mq_v2 -> _mq_v2 + throwIf(ifNull(abs(_mq_v2) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(pn['b'], 12)])[1], 12), 12)])[1]
