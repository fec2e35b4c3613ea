-- case: compare_two_properties
-- kind: filter
-- dialect: clickhouse
-- input: a <> b
ps['a'] <> ps['b']
