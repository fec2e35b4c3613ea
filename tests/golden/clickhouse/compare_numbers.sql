-- case: compare_numbers
-- kind: filter
-- dialect: clickhouse
-- input: tokens >= 100
arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(pn['tokens'], 12)])[1] >= toDecimal256('100', 12)
