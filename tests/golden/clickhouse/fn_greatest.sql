-- case: fn_greatest
-- kind: grouping_key
-- dialect: clickhouse
-- input: greatest(region, 'm')
greatest(ps['region'], 'm')
