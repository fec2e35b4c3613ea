-- case: fn_length
-- kind: value
-- dialect: clickhouse
-- input: length(region)
toDecimal256(lengthUTF8(ps['region']), 12)
