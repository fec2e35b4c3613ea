-- case: compare_numbers
-- kind: filter
-- dialect: clickhouse
-- input: tokens >= 100
(CASE WHEN (pn['tokens'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['tokens'], '0'), 12), 12) END) >= toDecimal256('100', 12)
