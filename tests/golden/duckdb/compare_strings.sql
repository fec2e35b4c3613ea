-- case: compare_strings
-- kind: filter
-- dialect: duckdb
-- input: region = 'eu'
ps['region'] = 'eu'
