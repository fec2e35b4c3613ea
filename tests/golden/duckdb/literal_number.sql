-- case: literal_number
-- kind: value
-- dialect: duckdb
-- input: 1.5
CAST('1.5' AS DECIMAL(38, 12))
