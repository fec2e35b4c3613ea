-- case: compare_two_properties
-- kind: filter
-- dialect: duckdb
-- input: a <> b
ps['a'] <> ps['b']
