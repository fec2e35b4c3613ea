-- case: summary_count
-- kind: plan (summary)
-- dialect: duckdb
-- input: {"metric": {"aggregation": "count", "code": "m_count", "event_name": "llm_call", "filter": "region = 'eu' OR tier != 'free'"}, "path": "summary"}
-- parameters: {"end": 1761955200000, "event_name": "llm_call", "start": 1759276800000, "subject": "subj_1"}
SELECT 0 AS bucket, COUNT(*) AS n FROM "events" WHERE (subject_id = $subject) AND (ts < $end) AND (ts >= $start) AND (event_name = $event_name) AND ((ps['region'] = 'eu') OR (ps['tier'] <> 'free'))
