-- case: fn_abs
-- kind: value
-- dialect: duckdb
-- input: abs(a)
ABS(CAST(pn['a'] AS DECIMAL(38, 12)))
