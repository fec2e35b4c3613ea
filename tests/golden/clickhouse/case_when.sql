-- case: case_when
-- kind: value
-- dialect: clickhouse
-- input: CASE WHEN region = 'eu' THEN tokens * 2 WHEN region = 'us' THEN tokens ELSE 0 END
CASE WHEN (ps['region'] = 'eu') THEN arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(round((CASE WHEN (pn['tokens'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['tokens'], '0'), 12), 12) END) * toDecimal256('2', 12), 12), 12)])[1] WHEN (ps['region'] = 'us') THEN (CASE WHEN (pn['tokens'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['tokens'], '0'), 12), 12) END) ELSE toDecimal256('0', 12) END
