-- case: summary_count_day_model
-- kind: plan (summary)
-- dialect: duckdb
-- input: {"dimensions": ["model"], "granularity": "day", "metric": {"aggregation": "count", "code": "m_count", "event_name": "llm_call", "filter": "region = 'eu' OR tier != 'free'"}, "path": "summary"}
-- parameters: {"end": 1761955200000, "event_name": "llm_call", "start": 1759276800000, "subject": "subj_1"}
SELECT ts - (((ts % 86400000) + 86400000) % 86400000) AS bucket, ps['model'] AS dim0, COUNT(*) AS n FROM "events" WHERE (subject_id = $subject) AND (ts < $end) AND (ts >= $start) AND (event_name = $event_name) AND ((ps['region'] = 'eu') OR (ps['tier'] <> 'free')) GROUP BY ts - (((ts % 86400000) + 86400000) % 86400000), ps['model']
