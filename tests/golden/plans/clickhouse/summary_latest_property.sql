-- case: summary_latest_property
-- kind: plan (summary)
-- dialect: clickhouse
-- input: {"metric": {"aggregation": "latest", "code": "m_latest", "event_name": "llm_call", "filter": "region = 'eu' OR tier != 'free'", "value": "tokens"}, "path": "summary"}
-- parameters: {"end": 1761955200000, "event_name": "llm_call", "start": 1759276800000, "subject": "subj_1"}
SELECT 0 AS bucket, COUNT(*) AS n, CASE WHEN (MAX(_mq_latest) IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(MAX(_mq_latest), '0'), 12), 12) END AS a0 FROM (SELECT pn['tokens'] AS _mq_latest FROM "meterql_golden"."events" WHERE ((subject_id = {subject: String}) AND (ts < {end: Int64}) AND (ts >= {start: Int64}) AND (event_name = {event_name: String}) AND ((ps['region'] = 'eu') OR (ps['tier'] <> 'free'))) AND (NOT (pn['tokens'] IS NULL)) ORDER BY ts DESC, event_id DESC LIMIT 1) AS e
