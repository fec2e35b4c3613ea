-- case: case_without_else
-- kind: grouping_key
-- dialect: clickhouse
-- input: CASE WHEN tokens > 10 THEN 'big' END
CASE WHEN (arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(pn['tokens'], 12)])[1] > toDecimal256('10', 12)) THEN 'big' ELSE CAST(NULL AS Nullable(String)) END
