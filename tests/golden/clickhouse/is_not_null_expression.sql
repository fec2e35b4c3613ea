-- case: is_not_null_expression
-- kind: filter
-- dialect: clickhouse
-- input: tokens * 2 IS NOT NULL
NOT arrayMap(_mq_v3 -> _mq_v3 IS NULL, [toNullable(arrayMap(_mq_v2 -> _mq_v2 + throwIf(ifNull(abs(_mq_v2) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(round(arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(pn['tokens'], 12)])[1] * toDecimal256('2', 12), 12), 12)])[1])])[1]
