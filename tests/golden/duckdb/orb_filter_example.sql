-- case: orb_filter_example
-- kind: filter
-- dialect: duckdb
-- input: my_property = 'foo' AND my_other_property = 'bar'
(ps['my_property'] = 'foo') AND (ps['my_other_property'] = 'bar')
