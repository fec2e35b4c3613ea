-- case: summary_latest
-- kind: plan (summary)
-- dialect: duckdb
-- input: {"metric": {"aggregation": "latest", "code": "m_latest", "event_name": "llm_call", "filter": "region = 'eu' OR tier != 'free'", "value": "tokens * 1.5"}, "path": "summary"}
-- parameters: {"end": 1761955200000, "event_name": "llm_call", "start": 1759276800000, "subject": "subj_1"}
SELECT 0 AS bucket, COUNT(*) AS n, ARG_MAX(((TRUNC(CAST(pn['tokens'] AS DECIMAL(38, 12))) * CAST('1.5' AS DECIMAL(38, 12))) + ((CAST(pn['tokens'] AS DECIMAL(38, 12)) - TRUNC(CAST(pn['tokens'] AS DECIMAL(38, 12)))) * CAST('1' AS DECIMAL(38, 0)))) + CAST(((CAST(pn['tokens'] AS DECIMAL(38, 12)) - TRUNC(CAST(pn['tokens'] AS DECIMAL(38, 12)))) * CAST('0.5' AS DECIMAL(38, 12))) AS DECIMAL(38, 12)), (ts, event_id)) AS a0 FROM "events" WHERE (subject_id = $subject) AND (ts < $end) AND (ts >= $start) AND (event_name = $event_name) AND ((ps['region'] = 'eu') OR (ps['tier'] <> 'free'))
