-- case: and_or_not
-- kind: filter
-- dialect: clickhouse
-- input: NOT (region = 'eu' OR region = 'us') AND tokens > 0
(NOT ((ps['region'] = 'eu') OR (ps['region'] = 'us'))) AND (arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(pn['tokens'], 12)])[1] > toDecimal256('0', 12))
