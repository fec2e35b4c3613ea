-- case: fn_round_digits
-- kind: value
-- dialect: duckdb
-- input: round(a, -2)
CAST(ROUND(CAST(pn['a'] AS DECIMAL(38, 12)), -2) AS DECIMAL(38, 12))
