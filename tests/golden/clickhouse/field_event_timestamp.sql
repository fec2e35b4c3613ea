-- case: field_event_timestamp
-- kind: value
-- dialect: clickhouse
-- input: event.timestamp
toDecimal256(ts, 12) / toDecimal256('1000', 0)
