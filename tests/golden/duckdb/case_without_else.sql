-- case: case_without_else
-- kind: grouping_key
-- dialect: duckdb
-- input: CASE WHEN tokens > 10 THEN 'big' END
CASE WHEN (CAST(pn['tokens'] AS DECIMAL(38, 12)) > CAST('10' AS DECIMAL(38, 12))) THEN 'big' ELSE CAST(NULL AS TEXT) END
