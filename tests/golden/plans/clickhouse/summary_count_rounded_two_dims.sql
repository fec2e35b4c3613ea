-- case: summary_count_rounded_two_dims
-- kind: plan (summary)
-- dialect: clickhouse
-- input: {"dimensions": ["model", "hour_floor_timestamp_millis(timestamp_millis)"], "metric": {"aggregation": "count", "code": "m_count", "event_name": "llm_call", "filter": "region = 'eu' OR tier != 'free'", "rounding": "ceil", "rounding_precision": 1}, "path": "summary"}
-- parameters: {"end": 1761955200000, "event_name": "llm_call", "start": 1759276800000, "subject": "subj_1"}
SELECT 0 AS bucket, ps['model'] AS dim0, arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(ts - (((ts % 3600000) + 3600000) % 3600000), 12)])[1] AS dim1, COUNT(*) AS n FROM "meterql_golden"."events" WHERE (subject_id = {subject: String}) AND (ts < {end: Int64}) AND (ts >= {start: Int64}) AND (event_name = {event_name: String}) AND ((ps['region'] = 'eu') OR (ps['tier'] <> 'free')) GROUP BY ps['model'], arrayMap(_mq_v1 -> _mq_v1 + throwIf(ifNull(abs(_mq_v1) >= toDecimal256('100000000000000000000000000', 0), 0), 'meterql: numeric overflow'), [toDecimal256(ts - (((ts % 3600000) + 3600000) % 3600000), 12)])[1]
