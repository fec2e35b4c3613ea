-- case: is_not_null_expression
-- kind: filter
-- dialect: duckdb
-- input: tokens * 2 IS NOT NULL
NOT LIST_TRANSFORM([CAST(pn['tokens'] AS DECIMAL(38, 12)) * CAST('2' AS DECIMAL(38, 0))], LAMBDA _mq_v1 : _mq_v1 IS NULL)[1]
