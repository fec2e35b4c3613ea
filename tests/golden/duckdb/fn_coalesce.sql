-- case: fn_coalesce
-- kind: value
-- dialect: duckdb
-- input: coalesce(a, b, 0)
COALESCE(CAST(pn['a'] AS DECIMAL(38, 12)), CAST(pn['b'] AS DECIMAL(38, 12)), CAST('0' AS DECIMAL(38, 12)))
