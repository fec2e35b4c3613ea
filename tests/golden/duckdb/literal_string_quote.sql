-- case: literal_string_quote
-- kind: grouping_key
-- dialect: duckdb
-- input: 'it''s'
'it''s'
