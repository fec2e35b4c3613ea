-- case: like_dynamic_pattern
-- kind: filter
-- dialect: clickhouse
-- input: model LIKE pattern
ps['model'] LIKE replaceRegexpAll(CASE WHEN match(ps['pattern'], '(^|[^\\\\])(\\\\\\\\)*\\\\$') THEN concat(ps['pattern'], '\\') ELSE ps['pattern'] END, '(?s)(\\\\[%_\\\\])|\\\\(.)', '\\1\\2')
