-- case: property_boolean_context
-- kind: filter
-- dialect: clickhouse
-- input: is_test
pb['is_test']
