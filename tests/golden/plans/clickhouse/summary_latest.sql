-- case: summary_latest
-- kind: plan (summary)
-- dialect: clickhouse
-- input: {"metric": {"aggregation": "latest", "code": "m_latest", "event_name": "llm_call", "filter": "region = 'eu' OR tier != 'free'", "value": "tokens * 1.5"}, "path": "summary"}
-- parameters: {"end": 1761955200000, "event_name": "llm_call", "start": 1759276800000, "subject": "subj_1"}
SELECT 0 AS bucket, COUNT(*) AS n, argMax(arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(round((CASE WHEN (pn['tokens'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['tokens'], '0'), 12), 12) END) * toDecimal256('1.5', 12), 12), 12)])[1], (ts, event_id)) AS a0 FROM "meterql_golden"."events" WHERE (subject_id = {subject: String}) AND (ts < {end: Int64}) AND (ts >= {start: Int64}) AND (event_name = {event_name: String}) AND ((ps['region'] = 'eu') OR (ps['tier'] <> 'free'))
