-- case: summary_latest_property_day_model
-- kind: plan (summary)
-- dialect: duckdb
-- input: {"dimensions": ["model"], "granularity": "day", "metric": {"aggregation": "latest", "code": "m_latest", "event_name": "llm_call", "filter": "region = 'eu' OR tier != 'free'", "value": "tokens"}, "path": "summary"}
-- parameters: {"end": 1761955200000, "event_name": "llm_call", "start": 1759276800000, "subject": "subj_1"}
SELECT ts - (((ts % 86400000) + 86400000) % 86400000) AS bucket, ps['model'] AS dim0, COUNT(*) AS n, CAST(ARG_MAX(pn['tokens'], (ts, event_id)) AS DECIMAL(38, 12)) AS a0 FROM "events" WHERE (subject_id = $subject) AND (ts < $end) AND (ts >= $start) AND (event_name = $event_name) AND ((ps['region'] = 'eu') OR (ps['tier'] <> 'free')) GROUP BY ts - (((ts % 86400000) + 86400000) % 86400000), ps['model']
