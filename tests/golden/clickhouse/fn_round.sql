-- case: fn_round
-- kind: value
-- dialect: clickhouse
-- input: round(a)
arrayMap(_mq_v2 -> _mq_v2 + throwIf(ifNull(abs(_mq_v2) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [round(arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(pn['a'], 12)])[1], 0)])[1]
