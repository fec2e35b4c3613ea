-- case: fn_to_string_boolean
-- kind: grouping_key
-- dialect: duckdb
-- input: to_string(tokens > 2)
CAST((CAST(pn['tokens'] AS DECIMAL(38, 12)) > CAST('2' AS DECIMAL(38, 12))) AS TEXT)
