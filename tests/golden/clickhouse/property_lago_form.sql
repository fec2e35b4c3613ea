-- case: property_lago_form
-- kind: value
-- dialect: clickhouse
-- input: event.properties.tokens
arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(pn['tokens'], 12)])[1]
