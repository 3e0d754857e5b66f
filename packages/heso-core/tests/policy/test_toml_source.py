"""TomlSource: parsing with located syntax errors, and finding where a key path is written."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from heso.errors import HesoConfigError
from heso.toml_source import TomlSource, close_matches, did_you_mean, format_key, type_name

DOC = textwrap.dedent(
    '''\
    # a comment with "quotes" and [brackets]
    title = "x"   # trailing

    [heso]
    workflow = "w"
    nested.deep = 1
    "quoted key" = 'lit'

    [approvers.oncall]
    members = ["a", "b"]

    [[rule]]
    id = "first"
    verb = ["llm_call",
            "tool_call"]   # multi-line array
    conditions = [
      { field = "model", op = "regex", value = "^gpt-4" },
      { field = "x", op = "in", value = [1, 2,
                                           3] },
    ]
    text = """multi
    line ] } "quoted" """
    decision = "allow"

    [[rule]]
    id = "second"
    subject = { kind = "agent", name = "bot" }
    [rule.extra]
    flag = true

    [[rule.conditions]]
    field = "amount"
    op = "gt"
    value = 5

    [[rule.conditions]]
    field = "when"
    op = "eq"
    value = 1979-05-27 07:32:00Z
    '''
)


@pytest.fixture
def src() -> TomlSource:
    return TomlSource(DOC, "heso.toml")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (("title",), False, (2, 1)),
        (("title",), True, (2, 9)),
        (("heso",), False, (4, 2)),
        (("heso", "workflow"), True, (5, 12)),
        (("heso", "nested", "deep"), False, (6, 8)),
        (("heso", "nested"), False, (6, 1)),
        (("heso", "quoted key"), False, (7, 1)),
        (("heso", "quoted key"), True, (7, 16)),
        (("approvers", "oncall"), False, (9, 12)),
        (("approvers", "oncall", "members", 1), True, (10, 17)),
        (("rule", 0), False, (12, 1)),
        (("rule", 0, "id"), True, (13, 6)),
        (("rule", 0, "verb", 1), True, (15, 9)),
        (("rule", 0, "conditions", 0, "op"), False, (17, 22)),
        (("rule", 0, "conditions", 0, "value"), True, (17, 44)),
        (("rule", 0, "conditions", 1), False, (18, 3)),
        (("rule", 0, "conditions", 1, "value", 2), True, (19, 40)),
        (("rule", 0, "decision"), False, (23, 1)),
        (("rule", 1), False, (25, 1)),
        (("rule", 1, "subject", "name"), True, (27, 36)),
        (("rule", 1, "extra", "flag"), False, (29, 1)),
        (("rule", 1, "conditions", 0), False, (31, 1)),
        (("rule", 1, "conditions", 0, "value"), True, (34, 9)),
        (("rule", 1, "conditions", 1, "field"), True, (37, 9)),
        (("rule", 1, "conditions", 1, "value"), True, (39, 9)),
    ],
)
def test_locate(
    src: TomlSource, key: tuple[str | int, ...], value: bool, expected: tuple[int, int]
) -> None:
    assert src.locate(key, value=value) == expected


def test_locate_falls_back_to_the_nearest_written_ancestor(src: TomlSource) -> None:
    assert src.locate(("rule", 1, "decision")) == (25, 1)
    assert src.locate(("rule", 0, "conditions", 0, "display")) == src.locate(
        ("rule", 0, "conditions", 0)
    )
    assert src.locate(("nowhere",)) is None


def test_data_is_parsed(src: TomlSource) -> None:
    assert src.data["rule"][1]["conditions"][0] == {"field": "amount", "op": "gt", "value": 5}


def test_error_names_path_line_column_key_and_hint(src: TomlSource) -> None:
    err = src.error("bad op", ("rule", 0, "conditions", 0, "op"), hint="use eq", value=True)
    assert isinstance(err, HesoConfigError)
    assert (err.path, err.line, err.column) == ("heso.toml", 17, 27)
    assert err.key == "rule[0].conditions[0].op"
    assert str(err) == "heso.toml:17:27: bad op (use eq)"


def test_error_without_key_has_no_location(src: TomlSource) -> None:
    err = src.error("whole file is wrong")
    assert (err.line, err.column, err.key) == (None, None, None)
    assert str(err) == "heso.toml: whole file is wrong"


def test_syntax_error_has_line_column_and_hint() -> None:
    with pytest.raises(HesoConfigError) as info:
        TomlSource('a = 1\nb = "unterminated\n', "p.toml")
    err = info.value
    assert (err.path, err.line, err.column) == ("p.toml", 2, 18)
    assert err.message.startswith("invalid TOML: Illegal character")
    assert err.hint


def test_syntax_error_at_end_of_document_points_at_the_last_line() -> None:
    with pytest.raises(HesoConfigError) as info:
        TomlSource("a = 1\nb = [1,\n  2\n", "p.toml")
    assert info.value.line == 3
    assert "Unclosed array" in info.value.message
    assert "(at end of document)" not in str(info.value)


def test_byte_order_mark_is_accepted() -> None:
    src = TomlSource('\ufeffa = "x"\n')
    assert src.data == {"a": "x"}
    assert src.locate(("a",)) == (1, 1)


def test_escaped_quoted_keys_are_located() -> None:
    src = TomlSource('[t]\n"a\\"b" = 1\n\'c.d\' = 2\n')
    assert src.locate(("t", 'a"b')) == (2, 1)
    assert src.locate(("t", "c.d"), value=True) == (3, 9)


def test_read_missing_file(tmp_path: Path) -> None:
    with pytest.raises(HesoConfigError) as info:
        TomlSource.read(tmp_path / "none.toml")
    assert info.value.path == str(tmp_path / "none.toml")
    assert info.value.hint and "heso init" in info.value.hint


def test_read_file(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text("[a]\nb = 1\n", encoding="utf-8")
    src = TomlSource.read(path)
    assert src.path == str(path)
    assert src.data == {"a": {"b": 1}}


def test_did_you_mean() -> None:
    assert did_you_mean("decison", ["id", "decision", "verb"]) == "decision"
    assert did_you_mean("ALLOW", ["allow", "block"]) == "allow"
    assert did_you_mean("zzz", ["allow", "block"]) is None
    assert close_matches("payment.authorise", ["payment.authorize", "payment.capture"], n=2)[0] == (
        "payment.authorize"
    )


def test_format_key_and_type_name() -> None:
    assert format_key(("rule", 3, "conditions", 0, "op")) == "rule[3].conditions[0].op"
    assert format_key(("approvers", "on call")) == 'approvers."on call"'
    assert [type_name(v) for v in ("s", 1, 1.5, True, [], {})] == [
        "a string",
        "an integer",
        "a float",
        "a boolean",
        "an array",
        "a table",
    ]


@pytest.mark.parametrize(
    "text",
    ["a = " + "[" * 5000 + "]" * 5000, "a = " + "{b=" * 3000 + "1" + "}" * 3000],
    ids=["arrays", "inline tables"],
)
def test_deep_nesting_is_a_config_error_not_a_crash(text: str) -> None:
    with pytest.raises(HesoConfigError, match="nested too deeply"):
        TomlSource(text)
