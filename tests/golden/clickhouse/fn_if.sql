-- case: fn_if
-- kind: value
-- dialect: clickhouse
-- input: if(is_test, 0, tokens)
CASE WHEN pb['is_test'] THEN toDecimal256('0', 12) ELSE (CASE WHEN (pn['tokens'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['tokens'], '0'), 12), 12) END) END
