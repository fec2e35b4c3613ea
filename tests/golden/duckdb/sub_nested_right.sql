-- case: sub_nested_right
-- kind: value
-- dialect: duckdb
-- input: 10 - (a - 2)
CAST('10' AS DECIMAL(38, 12)) - (CAST(pn['a'] AS DECIMAL(38, 12)) - CAST('2' AS DECIMAL(38, 12)))
