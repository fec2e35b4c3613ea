-- case: literal_big_exact
-- kind: value
-- dialect: duckdb
-- input: 12345678901234567890.123456789012
CAST('12345678901234567890.123456789012' AS DECIMAL(38, 12))
