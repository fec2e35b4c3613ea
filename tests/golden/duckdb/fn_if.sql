-- case: fn_if
-- kind: value
-- dialect: duckdb
-- input: if(is_test, 0, tokens)
CASE WHEN pb['is_test'] THEN CAST('0' AS DECIMAL(38, 12)) ELSE CAST(pn['tokens'] AS DECIMAL(38, 12)) END
