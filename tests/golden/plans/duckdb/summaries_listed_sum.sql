-- case: summaries_listed_sum
-- kind: plan (summaries)
-- dialect: duckdb
-- input: {"metric": {"aggregation": "sum", "code": "m_sum", "event_name": "llm_call", "filter": "region = 'eu' OR tier != 'free'", "value": "tokens * 1.5"}, "path": "summaries", "subject_ids": ["subj_1", "subj_2"]}
-- parameters: {"end": 1761955200000, "event_name": "llm_call", "start": 1759276800000, "subjects": ["subj_1", "subj_2"]}
SELECT 0 AS bucket, COUNT(*) AS n, SUM(((TRUNC(CAST(pn['tokens'] AS DECIMAL(38, 12))) * CAST('1.5' AS DECIMAL(38, 12))) + ((CAST(pn['tokens'] AS DECIMAL(38, 12)) - TRUNC(CAST(pn['tokens'] AS DECIMAL(38, 12)))) * CAST('1' AS DECIMAL(38, 0)))) + CAST(((CAST(pn['tokens'] AS DECIMAL(38, 12)) - TRUNC(CAST(pn['tokens'] AS DECIMAL(38, 12)))) * CAST('0.5' AS DECIMAL(38, 12))) AS DECIMAL(38, 12))) AS a0, subject_id FROM "events" WHERE (subject_id IN (SELECT UNNEST($subjects))) AND (ts < $end) AND (ts >= $start) AND (event_name = $event_name) AND ((ps['region'] = 'eu') OR (ps['tier'] <> 'free')) GROUP BY subject_id
