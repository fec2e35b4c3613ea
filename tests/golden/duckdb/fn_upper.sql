-- case: fn_upper
-- kind: grouping_key
-- dialect: duckdb
-- input: upper(region)
TRANSLATE(ps['region'], 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')
