-- case: fn_to_string
-- kind: grouping_key
-- dialect: clickhouse
-- input: to_string(tokens * 2)
replaceRegexpOne(replaceRegexpOne(toString(arrayMap(_mq_v2 -> _mq_v2 + throwIf(ifNull(abs(_mq_v2) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(round(arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(pn['tokens'], 12)])[1] * toDecimal256('2', 12), 12), 12)])[1]), '(\\.[0-9]*[1-9])0+$', '\\1'), '\\.0+$', '')
