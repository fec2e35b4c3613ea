-- case: fn_ceil
-- kind: value
-- dialect: duckdb
-- input: ceil(a, 2)
CAST(LIST_TRANSFORM([CAST(pn['a'] AS DECIMAL(38, 12))], LAMBDA _mq_v1 : LIST_TRANSFORM([_mq_v1 - (_mq_v1 % CAST('0.01' AS DECIMAL(38, 12)))], LAMBDA _mq_v2 : CASE WHEN (_mq_v1 > _mq_v2) THEN (_mq_v2 + CAST('0.01' AS DECIMAL(38, 12))) ELSE _mq_v2 END)[1])[1] AS DECIMAL(38, 12))
