-- case: fn_concat
-- kind: grouping_key
-- dialect: duckdb
-- input: concat(region, '-', tokens + 1, is_test)
CONCAT(COALESCE(ps['region'], ''), COALESCE('-', ''), COALESCE(REGEXP_REPLACE(REGEXP_REPLACE(CAST((CAST(pn['tokens'] AS DECIMAL(38, 12)) + CAST('1' AS DECIMAL(38, 12))) AS TEXT), '(\.[0-9]*[1-9])0+$', '\1'), '\.0+$', ''), ''), COALESCE(ps['is_test'], ''))
