-- case: fn_to_number
-- kind: value
-- dialect: duckdb
-- input: to_number(region)
CASE WHEN REGEXP_FULL_MATCH(ps['region'], '^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$') THEN CAST(REGEXP_REPLACE(REGEXP_REPLACE(CASE WHEN REGEXP_FULL_MATCH(ps['region'], '^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$') THEN ps['region'] ELSE '0' END, '^[+-]?(0+\.?0*|\.0+)[eE][+-]?[0-9]+$', '0'), '[eE]([+-]?)0*[1-9][0-9]{4,}$', 'e\19999') AS DECIMAL(38, 12)) END
