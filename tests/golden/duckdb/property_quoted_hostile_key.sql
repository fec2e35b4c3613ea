-- case: property_quoted_hostile_key
-- kind: grouping_key
-- dialect: duckdb
-- input: "it's ""odd"" \\ *"
ps['it''s "odd" \ *']
