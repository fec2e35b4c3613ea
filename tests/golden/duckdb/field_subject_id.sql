-- case: field_subject_id
-- kind: grouping_key
-- dialect: duckdb
-- input: subject_id
subject_id
