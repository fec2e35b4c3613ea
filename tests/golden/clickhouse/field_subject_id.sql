-- case: field_subject_id
-- kind: grouping_key
-- dialect: clickhouse
-- input: subject_id
subject_id
