-- case: summaries_listed_unique_count_recurring
-- kind: plan (summaries)
-- dialect: clickhouse
-- input: {"granularity": "week", "metric": {"aggregation": "unique_count", "code": "m_unique_count", "event_name": "llm_call", "filter": "region = 'eu' OR tier != 'free'", "recurring": true, "value": "model"}, "path": "summaries", "subject_ids": ["subj_1"]}
-- parameters: {"end": 1761955200000, "event_name": "llm_call", "start": 1759276800000, "subjects": ["subj_1"]}
SELECT b AS bucket, COUNT(*) AS n, SUM(fresh) AS a0, subject_id FROM (SELECT CASE WHEN NOT (ts >= {start: Int64}) THEN NULL ELSE ts - ((((ts + 259200000) % 604800000) + 604800000) % 604800000) END AS b, subject_id, CASE WHEN (NOT ((ps['model']) IS NULL)) AND (ROW_NUMBER() OVER (PARTITION BY subject_id, ps['model'] ORDER BY ts, event_id) = 1) THEN 1 ELSE 0 END AS fresh FROM "meterql_golden"."events" WHERE (subject_id IN {subjects: Array(String)}) AND (ts < {end: Int64}) AND (event_name = {event_name: String}) AND ((ps['region'] = 'eu') OR (ps['tier'] <> 'free'))) AS e GROUP BY subject_id, b
