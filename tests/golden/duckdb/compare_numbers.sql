-- case: compare_numbers
-- kind: filter
-- dialect: duckdb
-- input: tokens >= 100
CAST(pn['tokens'] AS DECIMAL(38, 12)) >= CAST('100' AS DECIMAL(38, 12))
