-- case: case_when
-- kind: value
-- dialect: clickhouse
-- input: CASE WHEN region = 'eu' THEN tokens * 2 WHEN region = 'us' THEN tokens ELSE 0 END
CASE WHEN (ps['region'] = 'eu') THEN arrayMap(_mq_v2 -> _mq_v2 + throwIf(ifNull(abs(_mq_v2) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(round(arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(pn['tokens'], 12)])[1] * toDecimal256('2', 12), 12), 12)])[1] WHEN (ps['region'] = 'us') THEN arrayMap(_mq_v3 -> _mq_v3 + throwIf(ifNull(abs(_mq_v3) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(pn['tokens'], 12)])[1] ELSE toDecimal256('0', 12) END
