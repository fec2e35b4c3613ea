-- case: summaries_all_unique_count_day_model
-- kind: plan (summaries)
-- dialect: clickhouse
-- input: {"dimensions": ["model"], "granularity": "day", "metric": {"aggregation": "unique_count", "code": "m_unique_count", "event_name": "llm_call", "filter": "region = 'eu' OR tier != 'free'", "value": "model"}, "path": "summaries"}
-- parameters: {"end": 1761955200000, "event_name": "llm_call", "start": 1759276800000}
SELECT ts - (((ts % 86400000) + 86400000) % 86400000) AS bucket, ps['model'] AS dim0, COUNT(*) AS n, uniqExact(ps['model']) AS a0, subject_id FROM "meterql_golden"."events" WHERE (ts < {end: Int64}) AND (ts >= {start: Int64}) AND (event_name = {event_name: String}) AND ((ps['region'] = 'eu') OR (ps['tier'] <> 'free')) GROUP BY subject_id, ts - (((ts % 86400000) + 86400000) % 86400000), ps['model']
