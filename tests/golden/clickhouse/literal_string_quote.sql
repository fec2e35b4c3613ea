-- case: literal_string_quote
-- kind: grouping_key
-- dialect: clickhouse
-- input: 'it''s'
'it''s'
