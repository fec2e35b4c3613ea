-- case: summaries_all_latest_property
-- kind: plan (summaries)
-- dialect: clickhouse
-- input: {"metric": {"aggregation": "latest", "code": "m_latest", "event_name": "llm_call", "filter": "region = 'eu' OR tier != 'free'", "value": "tokens"}, "path": "summaries"}
-- parameters: {"end": 1761955200000, "event_name": "llm_call", "start": 1759276800000}
SELECT 0 AS bucket, COUNT(*) AS n, CASE WHEN (argMax(pn['tokens'], (ts, event_id)) IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(argMax(pn['tokens'], (ts, event_id)), '0'), 12), 12) END AS a0, subject_id FROM "meterql_golden"."events" WHERE (ts < {end: Int64}) AND (ts >= {start: Int64}) AND (event_name = {event_name: String}) AND ((ps['region'] = 'eu') OR (ps['tier'] <> 'free')) GROUP BY subject_id
