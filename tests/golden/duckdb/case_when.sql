-- case: case_when
-- kind: value
-- dialect: duckdb
-- input: CASE WHEN region = 'eu' THEN tokens * 2 WHEN region = 'us' THEN tokens ELSE 0 END
CASE WHEN (ps['region'] = 'eu') THEN (CAST(pn['tokens'] AS DECIMAL(38, 12)) * CAST('2' AS DECIMAL(38, 0))) WHEN (ps['region'] = 'us') THEN CAST(pn['tokens'] AS DECIMAL(38, 12)) ELSE CAST('0' AS DECIMAL(38, 12)) END
