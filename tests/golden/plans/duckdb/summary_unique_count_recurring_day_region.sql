-- case: summary_unique_count_recurring_day_region
-- kind: plan (summary)
-- dialect: duckdb
-- input: {"dimensions": ["region"], "granularity": "day", "metric": {"aggregation": "unique_count", "code": "m_unique_count", "event_name": "llm_call", "filter": "region = 'eu' OR tier != 'free'", "recurring": true, "value": "model"}, "path": "summary"}
-- parameters: {"end": 1761955200000, "event_name": "llm_call", "start": 1759276800000, "subject": "subj_1"}
SELECT b AS bucket, d0 AS dim0, COUNT(*) AS n, SUM(fresh) AS a0 FROM (SELECT CASE WHEN NOT (ts >= $start) THEN NULL ELSE ts - (((ts % 86400000) + 86400000) % 86400000) END AS b, ps['region'] AS d0, CASE WHEN (NOT (ps['model']) IS NULL) AND (ROW_NUMBER() OVER (PARTITION BY ps['region'], ps['model'] ORDER BY ts, event_id) = 1) THEN 1 ELSE 0 END AS fresh FROM "events" WHERE (subject_id = $subject) AND (ts < $end) AND (event_name = $event_name) AND ((ps['region'] = 'eu') OR (ps['tier'] <> 'free'))) AS e GROUP BY b, d0
