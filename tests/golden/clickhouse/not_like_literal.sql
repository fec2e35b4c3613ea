-- case: not_like_literal
-- kind: filter
-- dialect: clickhouse
-- input: model NOT LIKE '%\\%'
NOT match(ps['model'], '(?s)^.*%$')
