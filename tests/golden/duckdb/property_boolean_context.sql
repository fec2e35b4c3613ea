-- case: property_boolean_context
-- kind: filter
-- dialect: duckdb
-- input: is_test
pb['is_test']
