-- case: fn_floor
-- kind: value
-- dialect: duckdb
-- input: floor(a, 1)
CAST(LIST_TRANSFORM([CAST(pn['a'] AS DECIMAL(38, 12))], LAMBDA _mq_v1 : LIST_TRANSFORM([_mq_v1 - (_mq_v1 % CAST('0.1' AS DECIMAL(38, 12)))], LAMBDA _mq_v2 : CASE WHEN (_mq_v1 < _mq_v2) THEN (_mq_v2 - CAST('0.1' AS DECIMAL(38, 12))) ELSE _mq_v2 END)[1])[1] AS DECIMAL(38, 12))
