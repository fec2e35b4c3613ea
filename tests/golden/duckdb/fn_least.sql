-- case: fn_least
-- kind: value
-- dialect: duckdb
-- input: least(a, b, 3)
LEAST(CAST(pn['a'] AS DECIMAL(38, 12)), CAST(pn['b'] AS DECIMAL(38, 12)), CAST('3' AS DECIMAL(38, 12)))
