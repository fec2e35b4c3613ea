-- case: price_matrix
-- kind: plan (price)
-- dialect: duckdb
-- input: {"path": "price", "price": {"default_unit_amount": "1", "dimensions": ["model"], "matrix_values": [{"dimension_values": ["gpt"], "unit_amount": "2"}], "metric": {"aggregation": "sum", "code": "m_sum", "event_name": "llm_call", "filter": "region = 'eu' OR tier != 'free'", "value": "tokens * 1.5"}, "model": "matrix"}}
-- parameters: {"end": 1761955200000, "event_name": "llm_call", "start": 1759276800000, "subject": "subj_1"}
SELECT 0 AS bucket, ps['model'] AS dim0, COUNT(*) AS n, SUM(((TRUNC(CAST(pn['tokens'] AS DECIMAL(38, 12))) * CAST('1.5' AS DECIMAL(38, 12))) + ((CAST(pn['tokens'] AS DECIMAL(38, 12)) - TRUNC(CAST(pn['tokens'] AS DECIMAL(38, 12)))) * CAST('1' AS DECIMAL(38, 0)))) + CAST(((CAST(pn['tokens'] AS DECIMAL(38, 12)) - TRUNC(CAST(pn['tokens'] AS DECIMAL(38, 12)))) * CAST('0.5' AS DECIMAL(38, 12))) AS DECIMAL(38, 12))) AS a0 FROM "events" WHERE (subject_id = $subject) AND (ts < $end) AND (ts >= $start) AND (event_name = $event_name) AND ((ps['region'] = 'eu') OR (ps['tier'] <> 'free')) GROUP BY ps['model']
