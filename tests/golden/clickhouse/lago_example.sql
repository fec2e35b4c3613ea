-- case: lago_example
-- kind: value
-- dialect: clickhouse
-- input: round(event.properties.tokens * 1.5, 2)
arrayMap(_mq_v3 -> _mq_v3 + throwIf(ifNull(abs(_mq_v3) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [round(arrayMap(_mq_v2 -> _mq_v2 + throwIf(ifNull(abs(_mq_v2) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(round(arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(pn['tokens'], 12)])[1] * toDecimal256('1.5', 12), 12), 12)])[1], 2)])[1]
