-- case: and_or_not
-- kind: filter
-- dialect: clickhouse
-- input: NOT (region = 'eu' OR region = 'us') AND tokens > 0
(NOT ((ps['region'] = 'eu') OR (ps['region'] = 'us'))) AND ((CASE WHEN (pn['tokens'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['tokens'], '0'), 12), 12) END) > toDecimal256('0', 12))
