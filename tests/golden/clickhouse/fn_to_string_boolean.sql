-- case: fn_to_string_boolean
-- kind: grouping_key
-- dialect: clickhouse
-- input: to_string(tokens > 2)
toString(CAST(((CASE WHEN (pn['tokens'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['tokens'], '0'), 12), 12) END) > toDecimal256('2', 12)) AS Nullable(Bool)))
