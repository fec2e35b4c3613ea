-- case: summary_sum_inclusive_end_no_event_name
-- kind: plan (summary)
-- dialect: clickhouse
-- input: {"granularity": "day", "inclusive_end": true, "inclusive_start": false, "metric": {"aggregation": "sum", "code": "m", "value": "tokens"}, "path": "summary"}
-- parameters: {"end": 1761955200000, "start": 1759276800000, "subject": "subj_1"}
SELECT ts - (((ts % 86400000) + 86400000) % 86400000) AS bucket, COUNT(*) AS n, SUM(CASE WHEN (pn['tokens'] IS NULL) THEN NULL ELSE toDecimal256(toDecimal128(ifNull(pn['tokens'], '0'), 12), 12) END) AS a0 FROM "meterql_golden"."events" WHERE (subject_id = {subject: String}) AND (ts <= {end: Int64}) AND (ts > {start: Int64}) GROUP BY ts - (((ts % 86400000) + 86400000) % 86400000)
