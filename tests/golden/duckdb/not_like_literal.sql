-- case: not_like_literal
-- kind: filter
-- dialect: duckdb
-- input: model NOT LIKE '%\\%'
NOT REGEXP_FULL_MATCH(ps['model'], '(?s)^.*%$')
