-- case: field_event_name
-- kind: grouping_key
-- dialect: clickhouse
-- input: event_name
event_name
