-- case: property_number_context
-- kind: value
-- dialect: duckdb
-- input: tokens
CAST(pn['tokens'] AS DECIMAL(38, 12))
