-- case: property_string_context
-- kind: grouping_key
-- dialect: clickhouse
-- input: region
ps['region']
