-- case: in_list
-- kind: filter
-- dialect: duckdb
-- input: region IN ('eu', 'us', null)
((ps['region'] = 'eu') OR (ps['region'] = 'us')) OR (ps['region'] = CAST(NULL AS TEXT))
