-- case: summary_latest_property
-- kind: plan (summary)
-- dialect: duckdb
-- input: {"metric": {"aggregation": "latest", "code": "m_latest", "event_name": "llm_call", "filter": "region = 'eu' OR tier != 'free'", "value": "tokens"}, "path": "summary"}
-- parameters: {"end": 1761955200000, "event_name": "llm_call", "start": 1759276800000, "subject": "subj_1"}
SELECT 0 AS bucket, COUNT(*) AS n, CAST(MAX(_mq_latest) AS DECIMAL(38, 12)) AS a0 FROM (SELECT pn['tokens'] AS _mq_latest FROM "events" WHERE ((subject_id = $subject) AND (ts < $end) AND (ts >= $start) AND (event_name = $event_name) AND ((ps['region'] = 'eu') OR (ps['tier'] <> 'free'))) AND (NOT (pn['tokens'] IS NULL)) ORDER BY ts DESC, event_id DESC LIMIT 1) AS e
