-- case: summary_latest_property_day_model
-- kind: plan (summary)
-- dialect: clickhouse
-- input: {"dimensions": ["model"], "granularity": "day", "metric": {"aggregation": "latest", "code": "m_latest", "event_name": "llm_call", "filter": "region = 'eu' OR tier != 'free'", "value": "tokens"}, "path": "summary"}
-- parameters: {"end": 1761955200000, "event_name": "llm_call", "start": 1759276800000, "subject": "subj_1"}
SELECT ts - (((ts % 86400000) + 86400000) % 86400000) AS bucket, ps['model'] AS dim0, COUNT(*) AS n, CASE WHEN (argMax(pn['tokens'], (ts, event_id)) IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(argMax(pn['tokens'], (ts, event_id)), '0'), 12), 12) END AS a0 FROM "meterql_golden"."events" WHERE (subject_id = {subject: String}) AND (ts < {end: Int64}) AND (ts >= {start: Int64}) AND (event_name = {event_name: String}) AND ((ps['region'] = 'eu') OR (ps['tier'] <> 'free')) GROUP BY ts - (((ts % 86400000) + 86400000) % 86400000), ps['model']
