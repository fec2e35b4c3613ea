-- case: like_dynamic_pattern
-- kind: filter
-- dialect: duckdb
-- input: model LIKE pattern
ps['model'] LIKE REGEXP_REPLACE(CASE WHEN REGEXP_MATCHES(ps['pattern'], '(^|[^\\])(\\\\)*\\$') THEN CONCAT(ps['pattern'], '\') ELSE ps['pattern'] END, '(?s)(\\[%_\\])|\\(.)', '\1\2', 'g') ESCAPE '\'
