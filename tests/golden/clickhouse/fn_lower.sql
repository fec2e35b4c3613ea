-- case: fn_lower
-- kind: grouping_key
-- dialect: clickhouse
-- input: lower(region)
lower(ps['region'])
