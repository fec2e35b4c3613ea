-- case: fn_to_string_boolean
-- kind: grouping_key
-- dialect: clickhouse
-- input: to_string(tokens > 2)
toString(CAST((arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(pn['tokens'], 12)])[1] > toDecimal256('2', 12)) AS Nullable(Bool)))
