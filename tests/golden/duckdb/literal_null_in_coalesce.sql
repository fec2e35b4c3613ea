-- case: literal_null_in_coalesce
-- kind: value
-- dialect: duckdb
-- input: coalesce(null, 1)
COALESCE(CAST(NULL AS DECIMAL(38, 12)), CAST('1' AS DECIMAL(38, 12)))
