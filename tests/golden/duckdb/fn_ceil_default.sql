-- case: fn_ceil_default
-- kind: value
-- dialect: duckdb
-- input: ceil(a)
CAST(CEIL(CAST(pn['a'] AS DECIMAL(38, 12))) AS DECIMAL(38, 12))
