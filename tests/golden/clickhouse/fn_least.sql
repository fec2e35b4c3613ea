-- case: fn_least
-- kind: value
-- dialect: clickhouse
-- input: least(a, b, 3)
least(CASE WHEN (pn['a'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['a'], '0'), 12), 12) END, CASE WHEN (pn['b'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['b'], '0'), 12), 12) END, toDecimal256('3', 12))
