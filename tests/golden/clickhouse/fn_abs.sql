-- case: fn_abs
-- kind: value
-- dialect: clickhouse
-- input: abs(a)
abs(arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(pn['a'], 12)])[1])
