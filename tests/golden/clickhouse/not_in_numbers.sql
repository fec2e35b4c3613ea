-- case: not_in_numbers
-- kind: filter
-- dialect: clickhouse
-- input: tokens NOT IN (1, 2.5)
NOT arrayMap(_mq_v2 -> (_mq_v2 = toDecimal256('1', 12)) OR (_mq_v2 = toDecimal256('2.5', 12)), [arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(pn['tokens'], 12)])[1]])[1]
