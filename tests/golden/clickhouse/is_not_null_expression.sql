-- case: is_not_null_expression
-- kind: filter
-- dialect: clickhouse
-- input: tokens * 2 IS NOT NULL
NOT arrayMap(_mq_v2 -> _mq_v2 IS NULL, [toNullable(arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(round((CASE WHEN (pn['tokens'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['tokens'], '0'), 12), 12) END) * toDecimal256('2', 12), 12), 12)])[1])])[1]
