-- case: literal_number
-- kind: value
-- dialect: clickhouse
-- input: 1.5
toDecimal256('1.5', 12)
