-- case: like_literal
-- kind: filter
-- dialect: duckdb
-- input: model LIKE 'gpt\\_4%'
REGEXP_FULL_MATCH(ps['model'], '(?s)^gpt_4.*$')
