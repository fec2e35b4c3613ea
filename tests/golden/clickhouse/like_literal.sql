-- case: like_literal
-- kind: filter
-- dialect: clickhouse
-- input: model LIKE 'gpt\\_4%'
match(ps['model'], '(?s)^gpt_4.*$')
