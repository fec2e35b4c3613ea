-- case: property_string_context
-- kind: grouping_key
-- dialect: duckdb
-- input: region
ps['region']
