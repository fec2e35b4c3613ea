-- case: summaries_all_latest_day_model
-- kind: plan (summaries)
-- dialect: clickhouse
-- input: {"dimensions": ["model"], "granularity": "day", "metric": {"aggregation": "latest", "code": "m_latest", "event_name": "llm_call", "filter": "region = 'eu' OR tier != 'free'", "value": "tokens * 1.5"}, "path": "summaries"}
-- parameters: {"end": 1761955200000, "event_name": "llm_call", "start": 1759276800000}
SELECT ts - (((ts % 86400000) + 86400000) % 86400000) AS bucket, ps['model'] AS dim0, COUNT(*) AS n, argMax(arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(round((CASE WHEN (pn['tokens'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['tokens'], '0'), 12), 12) END) * toDecimal256('1.5', 12), 12), 12)])[1], (ts, event_id)) AS a0, subject_id FROM "meterql_golden"."events" WHERE (ts < {end: Int64}) AND (ts >= {start: Int64}) AND (event_name = {event_name: String}) AND ((ps['region'] = 'eu') OR (ps['tier'] <> 'free')) GROUP BY subject_id, ts - (((ts % 86400000) + 86400000) % 86400000), ps['model']
