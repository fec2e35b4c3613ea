-- case: summaries_all_latest_property
-- kind: plan (summaries)
-- dialect: duckdb
-- input: {"metric": {"aggregation": "latest", "code": "m_latest", "event_name": "llm_call", "filter": "region = 'eu' OR tier != 'free'", "value": "tokens"}, "path": "summaries"}
-- parameters: {"end": 1761955200000, "event_name": "llm_call", "start": 1759276800000}
SELECT 0 AS bucket, COUNT(*) AS n, CAST(ARG_MAX(pn['tokens'], (ts, event_id)) AS DECIMAL(38, 12)) AS a0, subject_id FROM "events" WHERE (ts < $end) AND (ts >= $start) AND (event_name = $event_name) AND ((ps['region'] = 'eu') OR (ps['tier'] <> 'free')) GROUP BY subject_id
