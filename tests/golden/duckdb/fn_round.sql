-- case: fn_round
-- kind: value
-- dialect: duckdb
-- input: round(a)
CAST(ROUND(CAST(pn['a'] AS DECIMAL(38, 12)), 0) AS DECIMAL(38, 12))
