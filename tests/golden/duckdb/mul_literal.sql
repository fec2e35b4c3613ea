-- case: mul_literal
-- kind: value
-- dialect: duckdb
-- input: tokens * 1.5
((TRUNC(CAST(pn['tokens'] AS DECIMAL(38, 12))) * CAST('1.5' AS DECIMAL(38, 12))) + ((CAST(pn['tokens'] AS DECIMAL(38, 12)) - TRUNC(CAST(pn['tokens'] AS DECIMAL(38, 12)))) * CAST('1' AS DECIMAL(38, 0)))) + CAST(((CAST(pn['tokens'] AS DECIMAL(38, 12)) - TRUNC(CAST(pn['tokens'] AS DECIMAL(38, 12)))) * CAST('0.5' AS DECIMAL(38, 12))) AS DECIMAL(38, 12))
