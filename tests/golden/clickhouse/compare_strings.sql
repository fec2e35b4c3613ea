-- case: compare_strings
-- kind: filter
-- dialect: clickhouse
-- input: region = 'eu'
ps['region'] = 'eu'
