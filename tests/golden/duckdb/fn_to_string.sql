-- case: fn_to_string
-- kind: grouping_key
-- dialect: duckdb
-- input: to_string(tokens * 2)
REGEXP_REPLACE(REGEXP_REPLACE(CAST((CAST(pn['tokens'] AS DECIMAL(38, 12)) * CAST('2' AS DECIMAL(38, 0))) AS TEXT), '(\.[0-9]*[1-9])0+$', '\1'), '\.0+$', '')
