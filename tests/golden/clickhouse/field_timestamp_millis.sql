-- case: field_timestamp_millis
-- kind: value
-- dialect: clickhouse
-- input: timestamp_millis
toDecimal256(ts, 12)
