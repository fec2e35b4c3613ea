-- case: literal_boolean
-- kind: filter
-- dialect: clickhouse
-- input: true
TRUE
