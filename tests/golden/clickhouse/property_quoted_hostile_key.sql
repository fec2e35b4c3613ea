-- case: property_quoted_hostile_key
-- kind: grouping_key
-- dialect: clickhouse
-- input: "it's ""odd"" \\ *"
ps['it''s "odd" \\ *']
