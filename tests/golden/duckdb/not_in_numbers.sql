-- case: not_in_numbers
-- kind: filter
-- dialect: duckdb
-- input: tokens NOT IN (1, 2.5)
NOT LIST_TRANSFORM([CAST(pn['tokens'] AS DECIMAL(38, 12))], LAMBDA _mq_v1 : (_mq_v1 = CAST('1' AS DECIMAL(38, 12))) OR (_mq_v1 = CAST('2.5' AS DECIMAL(38, 12))))[1]
