-- case: fn_if
-- kind: value
-- dialect: clickhouse
-- input: if(is_test, 0, tokens)
CASE WHEN pb['is_test'] THEN toDecimal256('0', 12) ELSE arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(pn['tokens'], 12)])[1] END
