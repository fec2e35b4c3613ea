-- case: and_or_not
-- kind: filter
-- dialect: duckdb
-- input: NOT (region = 'eu' OR region = 'us') AND tokens > 0
(NOT ((ps['region'] = 'eu') OR (ps['region'] = 'us'))) AND (CAST(pn['tokens'] AS DECIMAL(38, 12)) > CAST('0' AS DECIMAL(38, 12)))
