-- case: fn_round_digits
-- kind: value
-- dialect: clickhouse
-- input: round(a, -2)
arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [round(CASE WHEN (pn['a'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['a'], '0'), 12), 12) END, -2)])[1]
