-- case: field_event_code
-- kind: grouping_key
-- dialect: clickhouse
-- input: event.code
event_name
