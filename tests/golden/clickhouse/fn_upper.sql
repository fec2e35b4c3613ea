-- case: fn_upper
-- kind: grouping_key
-- dialect: clickhouse
-- input: upper(region)
upper(ps['region'])
