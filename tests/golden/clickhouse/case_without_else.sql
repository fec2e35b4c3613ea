-- case: case_without_else
-- kind: grouping_key
-- dialect: clickhouse
-- input: CASE WHEN tokens > 10 THEN 'big' END
CASE WHEN ((CASE WHEN (pn['tokens'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['tokens'], '0'), 12), 12) END) > toDecimal256('10', 12)) THEN 'big' ELSE CAST(NULL AS Nullable(String)) END
