-- case: fn_concat
-- kind: grouping_key
-- dialect: clickhouse
-- input: concat(region, '-', tokens + 1, is_test)
concat(coalesce(ps['region'], ''), coalesce('-', ''), coalesce(replaceRegexpOne(replaceRegexpOne(toString(arrayMap(_mq_v2 -> _mq_v2 + throwIf(ifNull(abs(_mq_v2) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(pn['tokens'], 12)])[1] + toDecimal256('1', 12)])[1]), '(\\.[0-9]*[1-9])0+$', '\\1'), '\\.0+$', ''), ''), coalesce(ps['is_test'], ''))
