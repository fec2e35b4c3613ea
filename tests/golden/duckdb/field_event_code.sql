-- case: field_event_code
-- kind: grouping_key
-- dialect: duckdb
-- input: event.code
event_name
