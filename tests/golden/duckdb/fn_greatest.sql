-- case: fn_greatest
-- kind: grouping_key
-- dialect: duckdb
-- input: greatest(region, 'm')
GREATEST(ps['region'], 'm')
