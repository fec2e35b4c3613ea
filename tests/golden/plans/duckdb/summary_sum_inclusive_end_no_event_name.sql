-- case: summary_sum_inclusive_end_no_event_name
-- kind: plan (summary)
-- dialect: duckdb
-- input: {"granularity": "day", "inclusive_end": true, "inclusive_start": false, "metric": {"aggregation": "sum", "code": "m", "value": "tokens"}, "path": "summary"}
-- parameters: {"end": 1761955200000, "start": 1759276800000, "subject": "subj_1"}
SELECT ts - (((ts % 86400000) + 86400000) % 86400000) AS bucket, COUNT(*) AS n, SUM(CAST(pn['tokens'] AS DECIMAL(38, 12))) AS a0 FROM "events" WHERE (subject_id = $subject) AND (ts <= $end) AND (ts > $start) GROUP BY ts - (((ts % 86400000) + 86400000) % 86400000)
