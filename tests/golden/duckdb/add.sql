-- case: add
-- kind: value
-- dialect: duckdb
-- input: a + b
CAST(pn['a'] AS DECIMAL(38, 12)) + CAST(pn['b'] AS DECIMAL(38, 12))
