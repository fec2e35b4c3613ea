"""Golden SQL per dialect: one file per case in tests/golden/<dialect>/<case>.sql, with a header
(case, kind, dialect, input). Regenerate with METERQL_UPDATE_GOLDEN=1 and review the diff.

Every construct of the grammar and every registry function has a case (a test checks the
registry is covered), so any change in the SQL we emit shows up as a reviewed diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from meterql.compiler import compile_sql
from meterql.functions import REGISTRY

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("METERQL_UPDATE_GOLDEN") == "1"

CASES: dict[str, tuple[str, str]] = {
    # literals and references
    "literal_number": ("value", "1.5"),
    "literal_big_exact": ("value", "12345678901234567890.123456789012"),
    "literal_string_quote": ("grouping_key", "'it''s'"),
    "literal_boolean": ("filter", "true"),
    "literal_null_in_coalesce": ("value", "coalesce(null, 1)"),
    "property_number_context": ("value", "tokens"),
    "property_string_context": ("grouping_key", "region"),
    "property_boolean_context": ("filter", "is_test"),
    "property_lago_form": ("value", "event.properties.tokens"),
    "property_quoted_hostile_key": ("grouping_key", "\"it's \"\"odd\"\" \\ *\""),
    "field_timestamp_millis": ("value", "timestamp_millis"),
    "field_event_timestamp": ("value", "event.timestamp"),
    "field_event_name": ("grouping_key", "event_name"),
    "field_event_code": ("grouping_key", "event.code"),
    "field_subject_id": ("grouping_key", "subject_id"),
    # operators
    "add": ("value", "a + b"),
    "sub_nested_right": ("value", "10 - (a - 2)"),
    "mul": ("value", "a * b"),
    "mul_literal": ("value", "tokens * 1.5"),
    "div": ("value", "a / b"),
    "mod": ("value", "a % b"),
    "neg": ("value", "-(a - b)"),
    "compare_numbers": ("filter", "tokens >= 100"),
    "compare_strings": ("filter", "region = 'eu'"),
    "compare_two_properties": ("filter", "a <> b"),
    "and_or_not": ("filter", "NOT (region = 'eu' OR region = 'us') AND tokens > 0"),
    "in_list": ("filter", "region IN ('eu', 'us', null)"),
    "not_in_numbers": ("filter", "tokens NOT IN (1, 2.5)"),
    "is_null": ("filter", "region IS NULL"),
    "is_not_null_expression": ("filter", "tokens * 2 IS NOT NULL"),
    "like_literal": ("filter", "model LIKE 'gpt\\_4%'"),
    "not_like_literal": ("filter", "model NOT LIKE '%\\%'"),
    "like_dynamic_pattern": ("filter", "model LIKE pattern"),
    "case_when": ("value", "CASE WHEN region = 'eu' THEN tokens * 2 WHEN region = 'us' THEN tokens ELSE 0 END"),
    "case_without_else": ("grouping_key", "CASE WHEN tokens > 10 THEN 'big' END"),
    "lago_example": ("value", "round(event.properties.tokens * 1.5, 2)"),
    "orb_filter_example": ("filter", "my_property = 'foo' AND my_other_property = 'bar'"),
    "orb_grouping_example": ("grouping_key", "hour_floor_timestamp_millis(timestamp_millis)"),
    # registry functions
    "fn_round": ("value", "round(a)"),
    "fn_round_digits": ("value", "round(a, -2)"),
    "fn_ceil": ("value", "ceil(a, 2)"),
    "fn_ceil_default": ("value", "ceil(a)"),
    "fn_floor": ("value", "floor(a, 1)"),
    "fn_abs": ("value", "abs(a)"),
    "fn_least": ("value", "least(a, b, 3)"),
    "fn_greatest": ("grouping_key", "greatest(region, 'm')"),
    "fn_coalesce": ("value", "coalesce(a, b, 0)"),
    "fn_if": ("value", "if(is_test, 0, tokens)"),
    "fn_concat": ("grouping_key", "concat(region, '-', tokens + 1, is_test)"),
    "fn_lower": ("grouping_key", "lower(region)"),
    "fn_upper": ("grouping_key", "upper(region)"),
    "fn_length": ("value", "length(region)"),
    "fn_to_number": ("value", "to_number(region)"),
    "fn_to_string": ("grouping_key", "to_string(tokens * 2)"),
    "fn_to_string_boolean": ("grouping_key", "to_string(tokens > 2)"),
    "fn_hour_floor": ("value", "hour_floor_timestamp_millis(timestamp_millis)"),
    "fn_day_floor": ("value", "day_floor_timestamp_millis(timestamp_millis)"),
    "fn_week_floor": ("value", "week_floor_timestamp_millis(timestamp_millis)"),
    "fn_month_floor": ("value", "month_floor_timestamp_millis(timestamp_millis)"),
}

DIALECTS = ("duckdb", "clickhouse")


def _render(case: str, kind: str, text: str, dialect: str) -> str:
    shown = text.replace("\\", "\\\\").replace("\n", "\\n")
    header = f"-- case: {case}\n-- kind: {kind}\n-- dialect: {dialect}\n-- input: {shown}\n"
    return header + compile_sql(text, kind, dialect) + "\n"


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case, dialect):
    kind, text = CASES[case]
    path = GOLDEN / dialect / f"{case}.sql"
    got = _render(case, kind, text, dialect)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with METERQL_UPDATE_GOLDEN=1 and review it"
    assert got == path.read_text(encoding="utf-8"), f"SQL for {case} ({dialect}) changed; review and regenerate"


def test_every_registry_function_has_a_golden_case():
    covered = {name for name in REGISTRY for _, text in CASES.values() if f"{name}(" in text}
    assert covered == set(REGISTRY), set(REGISTRY) - covered


def test_no_stale_golden_files():
    for dialect in DIALECTS:
        names = {p.stem for p in (GOLDEN / dialect).glob("*.sql")}
        assert names <= set(CASES), f"stale golden files in {dialect}: {sorted(names - set(CASES))}"


def test_sql_command_prints_both_dialects(capsys):
    from meterql.cli import main

    assert main(["sql", "round(tokens * 1.5, 2)", "--kind", "value"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("-- duckdb\n") and "\n-- clickhouse\n" in out
    assert compile_sql("round(tokens * 1.5, 2)", "value", "clickhouse") in out
    assert main(["sql", "a = 'x'", "--dialect", "duckdb", "--json"]) == 0
    assert '"duckdb"' in capsys.readouterr().out


def test_sql_command_reports_a_bad_expression(capsys):
    from meterql.cli import main

    assert main(["sql", "rond(x)", "--kind", "value"]) == 1
    err = capsys.readouterr().err
    assert "E201" in err and "round" in err
