-- case: fn_abs
-- kind: value
-- dialect: clickhouse
-- input: abs(a)
abs(CASE WHEN (pn['a'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['a'], '0'), 12), 12) END)
