"""The named benchmark workloads: each one question, answered four ways on the same stored events.

Consumes: a connected `meterql` engine (DuckDB or ClickHouse) holding the generated events, and
(for the Python loop) the same events as dicts.
Produces, per workload, the answer as a *normalised* list of plain tuples, four ways:
- `meterql(engine)`: the public API end to end (`summary`, `aggregate_many`, `evaluate_price`…);
- `generated(engine, prepared)`: only the SQL meterql generates (rendered once, in `prepare`),
  run through the engine's own query path and finished by the plan (the SQL-vs-SQL comparison);
- `hand(engine)`: the best SQL we can write by hand for the same question on the same tables,
  run through the same query path (`engine._query`), with the same bound parameters;
- `python(events)`: a plain-Python loop over the event dicts (Decimal arithmetic).
Guarantees: the four answers are comparable with `==` (canonical number text everywhere); the
harness and the smoke test assert they are identical.

The hand-written SQL is constant text: only trusted Python ints (period bounds) are formatted
into it, and the subject travels as a bound parameter, exactly as in the generated SQL. It is
written for *this* data set (e.g. no overflow guard: no value here comes near 10^26); the
generated SQL must be correct for every input — the ratio is the price of that generality.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, Callable, Sequence


from meterql import Metric, Period
from meterql.plan import Window

# The question every workload asks is about these windows of the generated data (generate.py
# spreads events over 2025-09-01 .. 2025-12-01).
MONTH = (1_759_276_800_000, 1_761_955_200_000)  # October 2025, [start, end)
QUARTER = (1_756_684_800_000, 1_764_547_200_000)  # 2025-09-01 .. 2025-12-01
BUSIEST = "subj_000000"  # the head of the Zipf distribution (~13% of all events)
TAIL = "subj_000100"  # a mid-tail customer

WIDE = Context(prec=80)
_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
Result = list[tuple]


# --- plain-Python helpers (independent of meterql's own implementation) -------------------------


def canon(d: Decimal | int | None) -> str | None:
    """Canonical text (SPEC §3): plain notation, no trailing zeros, no -0."""
    if d is None:
        return None
    d = Decimal(d).normalize(WIDE)
    s = format(d, "f")
    return "0" if s in ("-0", "0") else s


def num(v: Any) -> Decimal | None:
    """Number-context reading of a JSON property (SPEC §2) for the generated data."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, str) and _NUM.match(v):
        return Decimal(v)
    return None


def div12(a: Decimal, b: Decimal) -> Decimal:
    """a / b rounded half away from zero to 12 fractional digits."""
    return WIDE.divide(a, b).quantize(Decimal("1e-12"), rounding=ROUND_HALF_UP, context=WIDE)


def dialect_of(engine: Any) -> str:
    return engine.dialect


def table(engine: Any) -> str:
    return "events" if engine.dialect == "duckdb" else f"`{engine.database}`.events"


def param(engine: Any, name: str) -> str:
    return f"${name}" if engine.dialect == "duckdb" else f"{{{name}:String}}"


def dec(engine: Any, e: str) -> str:
    """A hand-written exact decimal read of a canonical-text property."""
    return f"CAST({e} AS DECIMAL(38, 12))" if engine.dialect == "duckdb" else f"toDecimal128({e}, 12)"


# --- the workload shape ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    question: str
    meterql: Callable[[Any], Result]
    prepare: Callable[[Any], Any]  # engine -> whatever `generated` needs (rendered SQL + plans)
    generated: Callable[[Any, Any], Result]
    hand: Callable[[Any], Result]
    python: Callable[[Sequence[dict]], Result]
    loop: bool = False  # the `extra` variants are loops of many queries (invoice run): one run each
    extra: dict[str, Callable[[Any], Result]] = field(default_factory=dict)  # more variants


def summary_rows(rows: Sequence[Any]) -> Result:
    return [(r.period.start, tuple(v for _, v in r.dimension_coordinates), r.value) for r in rows]


def agg_rows(rows: Sequence[Any]) -> Result:
    return [(r.bucket_start_ms, tuple(r.coordinates), canon(r.value)) for r in rows]


def _prepared_plans(engine: Any, metrics: Sequence[Metric], subject: str, window: tuple[int, int],
                    granularity: str | None = None, dims: Sequence[str] = (), extra_filter: str | None = None) -> list:
    out = []
    for m in metrics:
        plan = engine.plan(m, Window(subject, window[0], window[1], True, False, granularity, tuple(dims), extra_filter))
        out.append((plan, plan.sql(), dict(plan.params)))
    return out


def _finished(plan: Any, rows: Any) -> list:
    """A one-subject plan's rows: one metric's list, or one list per metric (a shared scan)."""
    per_metric = plan.finish(rows)[plan.window.subject_id]
    return per_metric[0] if len(plan.metrics) == 1 else per_metric


def _run_plans(engine: Any, prepared: list) -> list[list]:
    return [_finished(plan, engine._query(sql, params)) for plan, sql, params in prepared]


def _in(ev: dict, subject: str, name: str | None, window: tuple[int, int]) -> bool:
    return ev["subject_id"] == subject and (name is None or ev["event_name"] == name) and window[0] <= ev["timestamp"] < window[1]


# --- single-metric summaries ----------------------------------------------------------------------


def pn(e: Any, key: str) -> str:
    """Hand-written exact read of number-context property `key` (a trusted constant)."""
    return dec(e, f"pn['{key}']")


def where(e: Any, window: tuple[int, int], extra: str = "") -> str:
    return (f"subject_id = {param(e, 'subject')} AND event_name = {param(e, 'event_name')} "
            f"AND ts >= {window[0]} AND ts < {window[1]}" + (f" AND {extra}" if extra else ""))


def summary_workload(name: str, question: str, metric: Metric, subject: str, window: tuple[int, int],
                     granularity: str | None, dims: tuple[str, ...], hand_sql: Callable[[Any], str],
                     hand_rows: Callable[[list[tuple]], Result], python: Callable[[Sequence[dict]], Result]) -> Workload:
    period = Period(window[0], window[1])
    return Workload(
        name=name,
        question=question,
        meterql=lambda e: summary_rows(e.summary(metric, subject, period, granularity, dims)),
        prepare=lambda e: _prepared_plans(e, [metric], subject, window, granularity, dims),
        generated=lambda e, p: agg_rows(_run_plans(e, p)[0]),
        hand=lambda e: hand_rows(e._query(hand_sql(e), {"subject": subject, "event_name": metric.event_name})),
        python=python,
    )


def _py_groups(events: Sequence[dict], subject: str, name: str, window: tuple[int, int],
               keep: Callable[[dict], bool], key: Callable[[dict], tuple]) -> dict[tuple, list[dict]]:
    groups: dict[tuple, list[dict]] = {}
    for ev in events:
        if _in(ev, subject, name, window) and keep(ev["properties"]):
            groups.setdefault(key(ev), []).append(ev)
    return groups


def _py_sum(events: Sequence[dict], subject: str, name: str, window: tuple[int, int], prop: str,
            keep: Callable[[dict], bool] = lambda p: True, key: Callable[[dict], tuple] | None = None) -> Result:
    key = key or (lambda ev: (window[0], ()))
    out = []
    for k, evs in _py_groups(events, subject, name, window, keep, key).items():
        vals = [num(ev["properties"].get(prop)) for ev in evs]
        out.append((k[0], k[1], canon(sum((v for v in vals if v is not None), Decimal(0)))))
    return out


def _month_ms(ts: int) -> int:
    import datetime as dt

    d = dt.datetime.fromtimestamp(ts / 1000, dt.UTC)
    return int(dt.datetime(d.year, d.month, 1, tzinfo=dt.UTC).timestamp() * 1000)


TOKENS = Metric(code="tokens", aggregation="sum", event_name="llm_call", value="tokens")
EU_TOKENS = Metric(code="eu_tokens", aggregation="sum", event_name="llm_call", value="tokens", filter="region = 'eu'")
MONTH_KEY = "month_floor_timestamp_millis(timestamp_millis)"


def _month_floor_sql(e: Any) -> str:
    if e.dialect == "duckdb":
        return "epoch_ms(date_trunc('month', make_timestamp(ts * 1000)))"
    return "toInt64(toUnixTimestamp(toDateTime(toStartOfMonth(toDateTime(intDiv(ts, 1000), 'UTC')), 'UTC'))) * 1000"


def _sum_subject_month() -> Workload:
    def sql(e: Any) -> str:
        return (f"SELECT {_month_floor_sql(e)} AS m, SUM({pn(e, 'tokens')}) FROM {table(e)} "
                "WHERE " + where(e, QUARTER, "ps['region'] = 'eu'") + " GROUP BY m")

    return summary_workload(
        "sum_subject_month", "filtered sum (region = 'eu') of tokens, busiest subject, per month over a quarter",
        EU_TOKENS, BUSIEST, QUARTER, None, (MONTH_KEY,), sql,
        lambda rows: [(QUARTER[0], (str(int(r[0])),), canon(r[1])) for r in rows],
        lambda evs: _py_sum(evs, BUSIEST, "llm_call", QUARTER, "tokens", keep=lambda p: p.get("region") == "eu",
                            key=lambda ev: (QUARTER[0], (str(_month_ms(ev["timestamp"])),))),
    )


def _hot_path(name: str, subject: str) -> Workload:
    def sql(e: Any) -> str:
        return f"SELECT SUM({pn(e, 'tokens')}) FROM {table(e)} WHERE {where(e, MONTH)}"

    return summary_workload(
        name, f"sum of tokens, one subject ({subject}) x one month: the billing hot path",
        TOKENS, subject, MONTH, None, (), sql,
        lambda rows: [(MONTH[0], (), canon(rows[0][0]) if rows else None)],
        lambda evs: _py_sum(evs, subject, "llm_call", MONTH, "tokens") or [(MONTH[0], (), None)],
    )


def _day_by_model() -> Workload:
    def sql(e: Any) -> str:
        return (f"SELECT ts - ts % 86400000 AS d, ps['model'] AS m, SUM({pn(e, 'tokens')}) "
                f"FROM {table(e)} WHERE {where(e, MONTH)} GROUP BY d, m")

    return summary_workload(
        "day_by_model", "sum of tokens, busiest subject, one month, by day x model",
        TOKENS, BUSIEST, MONTH, "day", ("model",), sql,
        lambda rows: [(int(r[0]), (r[1],), canon(r[2])) for r in rows],
        lambda evs: _py_sum(evs, BUSIEST, "llm_call", MONTH, "tokens",
                            key=lambda ev: (ev["timestamp"] - ev["timestamp"] % 86_400_000, (ev["properties"].get("model"),))),
    )


UNIQUE_REQUESTS = Metric(code="requests", aggregation="unique_count", event_name="llm_call", value="request_id")


def _unique_count() -> Workload:
    def sql(e: Any) -> str:
        agg = "COUNT(DISTINCT ps['request_id'])" if e.dialect == "duckdb" else "uniqExact(ps['request_id'])"
        return f"SELECT count(*), {agg} FROM {table(e)} WHERE {where(e, MONTH)}"

    def py(evs: Sequence[dict]) -> Result:
        g = _py_groups(evs, BUSIEST, "llm_call", MONTH, lambda p: True, lambda ev: ())
        ids = {ev["properties"].get("request_id") for ev in g.get((), [])} - {None}
        return [(MONTH[0], (), canon(len(ids)) if g else None)]

    return summary_workload(
        "unique_count", "exact distinct request_id (high cardinality), busiest subject, one month",
        UNIQUE_REQUESTS, BUSIEST, MONTH, None, (), sql,
        lambda rows: [(MONTH[0], (), canon(rows[0][1]) if rows and rows[0][0] else None)], py,
    )


LATEST_GB = Metric(code="gb_latest", aggregation="latest", event_name="storage_gb", value="gb")


def _latest() -> Workload:
    def sql(e: Any) -> str:
        # the newest event with a number, read once (both engines stop early on a top-1; an
        # arg_max over every row's read was 10× slower at 10M, issue 11)
        return (f"SELECT {pn(e, 'gb')} FROM {table(e)} WHERE " + where(e, MONTH, "pn['gb'] IS NOT NULL")
                + " ORDER BY ts DESC, event_id DESC LIMIT 1")

    def py(evs: Sequence[dict]) -> Result:
        g = _py_groups(evs, BUSIEST, "storage_gb", MONTH, lambda p: num(p.get("gb")) is not None, lambda ev: ())
        if not g:
            return [(MONTH[0], (), None)]
        last = max(g[()], key=lambda ev: (ev["timestamp"], ev["event_id"]))
        return [(MONTH[0], (), canon(num(last["properties"]["gb"])))]

    return summary_workload(
        "latest", "latest storage gb (ties by event_id), busiest subject, one month",
        LATEST_GB, BUSIEST, MONTH, None, (), sql,
        lambda rows: [(MONTH[0], (), canon(rows[0][0]) if rows else None)], py,
    )


WEIGHTED_GB = Metric(code="gb_weighted", aggregation="weighted_sum", event_name="storage_gb", value="gb")


def _weighted_sum() -> Workload:
    span = MONTH[1] - MONTH[0]

    def sql(e: Any) -> str:
        # Σ v·(end − ts): each change holds from its instant to the period end; ÷ duration in Python.
        return f"SELECT count(*), SUM({pn(e, 'gb')} * ({MONTH[1]} - ts)) FROM {table(e)} WHERE {where(e, MONTH)}"

    def hand_rows(rows: list[tuple]) -> Result:
        if not rows or not rows[0][0]:
            return [(MONTH[0], (), None)]
        return [(MONTH[0], (), canon(div12(Decimal(rows[0][1] or 0), Decimal(span))))]

    def py(evs: Sequence[dict]) -> Result:
        g = _py_groups(evs, BUSIEST, "storage_gb", MONTH, lambda p: True, lambda ev: ())
        if not g:
            return [(MONTH[0], (), None)]
        area = Decimal(0)
        for ev in g[()]:
            v = num(ev["properties"].get("gb"))
            if v is not None:
                area += v * (MONTH[1] - ev["timestamp"])
        return [(MONTH[0], (), canon(div12(area, Decimal(span))))]

    return summary_workload(
        "weighted_sum", "time-weighted storage gb level (Lago weighted_sum), busiest subject, one month",
        WEIGHTED_GB, BUSIEST, MONTH, None, (), sql, hand_rows, py,
    )


# --- several metrics, prices, all subjects ------------------------------------------------------

FIVE = [
    Metric(code="calls", aggregation="count", event_name="llm_call"),
    TOKENS,
    Metric(code="cost", aggregation="sum", event_name="llm_call", value="cost_usd"),
    Metric(code="max_tokens", aggregation="max", event_name="llm_call", value="tokens"),
    Metric(code="models", aggregation="unique_count", event_name="llm_call", value="model"),
]


def _five_metrics() -> Workload:
    def sql(e: Any) -> str:
        distinct = "COUNT(DISTINCT ps['model'])" if e.dialect == "duckdb" else "uniqExact(ps['model'])"
        return (f"SELECT count(*), SUM({pn(e, 'tokens')}), SUM({pn(e, 'cost_usd')}), MAX({pn(e, 'tokens')}), {distinct} "
                f"FROM {table(e)} WHERE {where(e, MONTH)}")

    def hand_rows(rows: list[tuple]) -> Result:
        n = rows[0][0] if rows else 0
        if not n:
            return [(i, None) for i in range(5)]
        r = rows[0]
        return [(0, canon(n)), (1, canon(r[1] or 0)), (2, canon(r[2] or 0)), (3, canon(r[3])), (4, canon(r[4]))]

    def py(evs: Sequence[dict]) -> Result:
        g = _py_groups(evs, BUSIEST, "llm_call", MONTH, lambda p: True, lambda ev: ()).get((), [])
        if not g:
            return [(i, None) for i in range(5)]
        toks = [v for v in (num(ev["properties"].get("tokens")) for ev in g) if v is not None]
        cost = [v for v in (num(ev["properties"].get("cost_usd")) for ev in g) if v is not None]
        models = {ev["properties"].get("model") for ev in g} - {None}
        return [(0, canon(len(g))), (1, canon(sum(toks, Decimal(0)))), (2, canon(sum(cost, Decimal(0)))),
                (3, canon(max(toks)) if toks else None), (4, canon(len(models)))]

    def flat(results: Sequence[Sequence[Any]]) -> Result:
        return [(i, canon(rows[0].value)) for i, rows in enumerate(results)]

    return Workload(
        name="five_metrics",
        question="count, sum tokens, sum cost_usd, max tokens, distinct models: busiest subject, one month",
        meterql=lambda e: flat(e.aggregate_many(FIVE, Window(BUSIEST, MONTH[0], MONTH[1]))),
        prepare=_prepare_shared_scan,
        generated=lambda e, p: flat(_run_plans(e, p)[0] if len(p) == 1 else _run_plans(e, p)),
        hand=lambda e: hand_rows(e._query(sql(e), {"subject": BUSIEST, "event_name": "llm_call"})),
        python=py,
    )


def _prepare_shared_scan(e: Any) -> list:
    """What `engine.aggregate_many` runs: one shared scan (`meterql.plan.build` of n metrics)."""
    from meterql.plan import build

    plan = build(FIVE, Window(BUSIEST, MONTH[0], MONTH[1]), e.dialect, e._table())
    return [(plan, plan.sql(), dict(plan.params))]


TIERS = [(Decimal(0), Decimal(100_000), Decimal("0.002")), (Decimal(100_000), None, Decimal("0.0015"))]
PRICE = {
    "metric": {"code": "tokens", "aggregation": "sum", "event_name": "llm_call", "value": "tokens"},
    "model": "tiered",
    "tiers": [{"first_unit": str(a), "last_unit": None if b is None else str(b), "unit_amount": str(u)} for a, b, u in TIERS],
}
PRICE_FILTER = "model = 'gpt-4o'"


def tiered_amount(q: Decimal) -> Decimal:
    total = Decimal(0)
    for first, last, unit in TIERS:
        top = q if last is None else min(q, last)
        if top > first:
            total += (top - first) * unit
    return total


def _price_eval() -> Workload:
    from meterql.price import Price, PriceLimits

    price = Price.from_dict(PRICE)
    limits = PriceLimits(max_lookback_days=None)  # the data set is fixed in 2025

    def meterql_rows(e: Any) -> Result:
        rows = e.evaluate_price(price, BUSIEST, MONTH[0], MONTH[1], filter=PRICE_FILTER, grouping_keys=["region"],
                                limits=limits)
        return [(r.grouping_values, canon(r.quantity), canon(r.amount)) for r in rows]

    def generated(e: Any, prepared: list) -> Result:
        rows = _run_plans(e, prepared)[0]
        out = [((r.coordinates[0],), r.value or Decimal(0)) for r in rows]
        return sorted((k, canon(q), canon(price.model.amount(q))) for k, q in out)

    def sql(e: Any) -> str:
        return (f"SELECT ps['region'] AS region, SUM({pn(e, 'tokens')}) FROM {table(e)} "
                f"WHERE " + where(e, MONTH, "ps['model'] = 'gpt-4o'") + " GROUP BY region ORDER BY region")

    def hand_rows(rows: list[tuple]) -> Result:
        return [((r[0],), canon(r[1] or 0), canon(tiered_amount(Decimal(r[1] or 0)))) for r in rows]

    def py(evs: Sequence[dict]) -> Result:
        g = _py_groups(evs, BUSIEST, "llm_call", MONTH, lambda p: p.get("model") == "gpt-4o",
                       lambda ev: (ev["properties"].get("region"),))
        out = []
        for k, group in sorted(g.items()):
            q = sum((v for v in (num(ev["properties"].get("tokens")) for ev in group) if v is not None), Decimal(0))
            out.append((k, canon(q), canon(tiered_amount(q))))
        return out

    return Workload(
        name="price_eval",
        question="tiered price of tokens, grouping key region, filter model = 'gpt-4o': busiest subject, one month",
        meterql=meterql_rows,
        prepare=lambda e: _prepared_plans(e, [price.metric], BUSIEST, MONTH, None, ("region",), PRICE_FILTER),
        generated=generated,
        hand=lambda e: hand_rows(e._query(sql(e), {"subject": BUSIEST, "event_name": "llm_call"})),
        python=py,
    )


# The invoice run: every subject, one period. meterql answers it in ONE query
# (`engine.summaries`, built by `query.build_subjects_plan`); the per-subject loop of `summary`
# calls (what a billing backend had to do before) and the loop of per-subject hand-written
# queries are kept as extra variants for the loop-vs-one-query ratios.

_SUBJECTS: dict[int, list[str]] = {}


def subjects(e: Any) -> list[str]:
    if id(e) not in _SUBJECTS:
        _SUBJECTS[id(e)] = [r[0] for r in e._query(f"SELECT DISTINCT subject_id FROM {table(e)} ORDER BY 1", {})]
    return _SUBJECTS[id(e)]


def _invoice_run() -> Workload:
    period = Period(MONTH[0], MONTH[1])

    def invoice(by_subject: dict[str, Any], value: Callable[[Any], Any]) -> Result:
        return sorted((s, canon(value(rows[0]))) for s, rows in by_subject.items()
                      if rows and value(rows[0]) is not None)

    def meterql_one_query(e: Any) -> Result:
        return sorted((s, rows[0].value) for s, rows in e.summaries(TOKENS, period).items() if rows[0].value is not None)

    def meterql_loop(e: Any) -> Result:
        out = []
        for s in subjects(e):
            v = e.summary(TOKENS, s, period)[0].value
            if v is not None:
                out.append((s, v))
        return out

    def prepare(e: Any) -> Any:
        plan = e.plan_subjects(TOKENS, Window(None, MONTH[0], MONTH[1]))
        return plan, plan.sql(), dict(plan.params)

    def generated(e: Any, prepared: Any) -> Result:
        plan, sql, params = prepared
        return invoice({s: r[0] for s, r in plan.finish(e._query(sql, params)).items()}, lambda r: r.value)

    def sql(e: Any) -> str:
        return (f"SELECT subject_id, SUM({pn(e, 'tokens')}) FROM {table(e)} WHERE event_name = {param(e, 'event_name')} "
                f"AND ts >= {MONTH[0]} AND ts < {MONTH[1]} GROUP BY subject_id ORDER BY subject_id")

    def one_sql(e: Any) -> str:
        return f"SELECT SUM({pn(e, 'tokens')}) FROM {table(e)} WHERE {where(e, MONTH)}"

    def hand_loop(e: Any) -> Result:
        q = one_sql(e)
        out = []
        for s in subjects(e):
            v = e._query(q, {"subject": s, "event_name": "llm_call"})[0][0]
            if v is not None:
                out.append((s, canon(v)))
        return out

    def py(evs: Sequence[dict]) -> Result:
        sums: dict[str, Decimal] = {}
        for ev in evs:
            if ev["event_name"] == "llm_call" and MONTH[0] <= ev["timestamp"] < MONTH[1]:
                v = num(ev["properties"].get("tokens"))
                sums[ev["subject_id"]] = sums.get(ev["subject_id"], Decimal(0)) + (v or 0)
        return sorted((s, canon(v)) for s, v in sums.items())

    return Workload(
        name="invoice_run",
        question="sum of tokens for EVERY subject, one month (meterql: engine.summaries, one query)",
        meterql=meterql_one_query,
        prepare=prepare,
        generated=generated,
        hand=lambda e: [(r[0], canon(r[1])) for r in e._query(sql(e), {"event_name": "llm_call"})],
        python=py,
        loop=True,
        extra={"hand_loop": hand_loop, "meterql_loop": meterql_loop},
    )


def all_workloads() -> list[Workload]:
    return [
        _sum_subject_month(),
        _hot_path("hot_path", BUSIEST),
        _hot_path("hot_path_tail", TAIL),
        _day_by_model(),
        _unique_count(),
        _latest(),
        _weighted_sum(),
        _five_metrics(),
        _price_eval(),
        _invoice_run(),
    ]
