-- case: mod
-- kind: value
-- dialect: duckdb
-- input: a % b
CAST(pn['a'] AS DECIMAL(38, 12)) % NULLIF(CAST(pn['b'] AS DECIMAL(38, 12)), CAST('0' AS DECIMAL(38, 12)))
