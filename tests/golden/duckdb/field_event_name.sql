-- case: field_event_name
-- kind: grouping_key
-- dialect: duckdb
-- input: event_name
event_name
