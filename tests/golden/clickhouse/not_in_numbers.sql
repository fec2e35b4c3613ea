-- case: not_in_numbers
-- kind: filter
-- dialect: clickhouse
-- input: tokens NOT IN (1, 2.5)
NOT arrayMap(_mq_v1 -> (_mq_v1 = toDecimal256('1', 12)) OR (_mq_v1 = toDecimal256('2.5', 12)), [CASE WHEN (pn['tokens'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['tokens'], '0'), 12), 12) END])[1]
