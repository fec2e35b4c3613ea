-- case: literal_null_in_coalesce
-- kind: value
-- dialect: clickhouse
-- input: coalesce(null, 1)
coalesce(CAST(NULL AS Nullable(Decimal(76, 12))), toDecimal256('1', 12))
