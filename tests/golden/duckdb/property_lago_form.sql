-- case: property_lago_form
-- kind: value
-- dialect: duckdb
-- input: event.properties.tokens
CAST(pn['tokens'] AS DECIMAL(38, 12))
