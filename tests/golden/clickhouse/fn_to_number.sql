-- case: fn_to_number
-- kind: value
-- dialect: clickhouse
-- input: to_number(region)
arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [CASE WHEN match(ps['region'], '^[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+)?$') THEN toDecimal256(round(toDecimal256(ifNull(replaceRegexpOne(replaceRegexpOne(CASE WHEN match(ps['region'], '^[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+)?$') THEN ps['region'] ELSE '0' END, '^[+-]?(0+\\.?0*|\\.0+)[eE][+-]?[0-9]+$', '0'), '[eE]([+-]?)0*[1-9][0-9]{4,}$', 'e\\19999'), '0'), 13), 12), 12) END])[1]
