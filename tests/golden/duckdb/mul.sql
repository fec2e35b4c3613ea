-- case: mul
-- kind: value
-- dialect: duckdb
-- input: a * b
((TRUNC(CAST(pn['a'] AS DECIMAL(38, 12))) * CAST(pn['b'] AS DECIMAL(38, 12))) + ((CAST(pn['a'] AS DECIMAL(38, 12)) - TRUNC(CAST(pn['a'] AS DECIMAL(38, 12)))) * TRUNC(CAST(pn['b'] AS DECIMAL(38, 12))))) + CAST(((CAST(pn['a'] AS DECIMAL(38, 12)) - TRUNC(CAST(pn['a'] AS DECIMAL(38, 12)))) * (CAST(pn['b'] AS DECIMAL(38, 12)) - TRUNC(CAST(pn['b'] AS DECIMAL(38, 12))))) AS DECIMAL(38, 12))
