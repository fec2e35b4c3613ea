-- case: mul
-- kind: value
-- dialect: clickhouse
-- input: a * b
arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(round((CASE WHEN (pn['a'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['a'], '0'), 12), 12) END) * (CASE WHEN (pn['b'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['b'], '0'), 12), 12) END), 12), 12)])[1]
