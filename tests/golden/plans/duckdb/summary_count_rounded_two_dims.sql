-- case: summary_count_rounded_two_dims
-- kind: plan (summary)
-- dialect: duckdb
-- input: {"dimensions": ["model", "hour_floor_timestamp_millis(timestamp_millis)"], "metric": {"aggregation": "count", "code": "m_count", "event_name": "llm_call", "filter": "region = 'eu' OR tier != 'free'", "rounding": "ceil", "rounding_precision": 1}, "path": "summary"}
-- parameters: {"end": 1761955200000, "event_name": "llm_call", "start": 1759276800000, "subject": "subj_1"}
SELECT 0 AS bucket, ps['model'] AS dim0, CAST((ts - (((ts % 3600000) + 3600000) % 3600000)) AS DECIMAL(38, 12)) AS dim1, COUNT(*) AS n FROM "events" WHERE (subject_id = $subject) AND (ts < $end) AND (ts >= $start) AND (event_name = $event_name) AND ((ps['region'] = 'eu') OR (ps['tier'] <> 'free')) GROUP BY ps['model'], CAST((ts - (((ts % 3600000) + 3600000) % 3600000)) AS DECIMAL(38, 12))
