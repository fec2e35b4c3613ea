-- case: summary_count
-- kind: plan (summary)
-- dialect: clickhouse
-- input: {"metric": {"aggregation": "count", "code": "m_count", "event_name": "llm_call", "filter": "region = 'eu' OR tier != 'free'"}, "path": "summary"}
-- parameters: {"end": 1761955200000, "event_name": "llm_call", "start": 1759276800000, "subject": "subj_1"}
SELECT 0 AS bucket, COUNT(*) AS n FROM "meterql_golden"."events" WHERE (subject_id = {subject: String}) AND (ts < {end: Int64}) AND (ts >= {start: Int64}) AND (event_name = {event_name: String}) AND ((ps['region'] = 'eu') OR (ps['tier'] <> 'free'))
