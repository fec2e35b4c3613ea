-- case: sub_nested_right
-- kind: value
-- dialect: clickhouse
-- input: 10 - (a - 2)
arrayMap(_mq_v2 -> _mq_v2 + throwIf(ifNull(abs(_mq_v2) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256('10', 12) - arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [(CASE WHEN (pn['a'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['a'], '0'), 12), 12) END) - toDecimal256('2', 12)])[1]])[1]
