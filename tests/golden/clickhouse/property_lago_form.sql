-- case: property_lago_form
-- kind: value
-- dialect: clickhouse
-- input: event.properties.tokens
CASE WHEN (pn['tokens'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['tokens'], '0'), 12), 12) END
