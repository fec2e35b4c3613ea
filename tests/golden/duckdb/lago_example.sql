-- case: lago_example
-- kind: value
-- dialect: duckdb
-- input: round(event.properties.tokens * 1.5, 2)
CAST(ROUND(((TRUNC(CAST(pn['tokens'] AS DECIMAL(38, 12))) * CAST('1.5' AS DECIMAL(38, 12))) + ((CAST(pn['tokens'] AS DECIMAL(38, 12)) - TRUNC(CAST(pn['tokens'] AS DECIMAL(38, 12)))) * CAST('1' AS DECIMAL(38, 0)))) + CAST(((CAST(pn['tokens'] AS DECIMAL(38, 12)) - TRUNC(CAST(pn['tokens'] AS DECIMAL(38, 12)))) * CAST('0.5' AS DECIMAL(38, 12))) AS DECIMAL(38, 12)), 2) AS DECIMAL(38, 12))
