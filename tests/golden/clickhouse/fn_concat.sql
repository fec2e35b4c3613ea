-- case: fn_concat
-- kind: grouping_key
-- dialect: clickhouse
-- input: concat(region, '-', tokens + 1, is_test)
concat(coalesce(ps['region'], ''), coalesce('-', ''), coalesce(replaceRegexpOne(replaceRegexpOne(toString(arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [(CASE WHEN (pn['tokens'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['tokens'], '0'), 12), 12) END) + toDecimal256('1', 12)])[1]), '(\\.[0-9]*[1-9])0+$', '\\1'), '\\.0+$', ''), ''), coalesce(ps['is_test'], ''))
