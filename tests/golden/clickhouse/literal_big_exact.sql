-- case: literal_big_exact
-- kind: value
-- dialect: clickhouse
-- input: 12345678901234567890.123456789012
toDecimal256('12345678901234567890.123456789012', 12)
