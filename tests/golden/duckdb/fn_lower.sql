-- case: fn_lower
-- kind: grouping_key
-- dialect: duckdb
-- input: lower(region)
TRANSLATE(ps['region'], 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
