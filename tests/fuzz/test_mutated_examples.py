"""Mutated descriptions and exports never make dcn fail with an internal error.

Hypothesis takes the bundled example, changes it (a value of another type, a name
with control characters or path tricks, a key removed or added, a site duplicated,
raw text spliced into the YAML) and runs what an operator would: load, validate and,
when the description is valid, plan every site and write the rendered files. dcn must
answer with a `DcnError` (a message with a place and a fix) or with findings or a
plan: any other exception is a bug. Every rendered file is checked for characters that
could start a new line or section, and every written path for staying in its folder.

The number of examples is bounded so this runs in CI; a wall-clock guard of 10 s per
example turns a hang (an unbounded expansion, a runaway loop) into a failure instead
of a stuck run. It is a hang guard, not a performance threshold: an example takes
milliseconds.
"""

from __future__ import annotations

import copy
import os
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dcn.errors import DcnError
from dcn.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "dcn-basic.yaml"
BASE: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
#: characters after which a rendered line could be read as a new line or section
LINE_BREAKS = ("\r", "\x00", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")
HANG_GUARD_S = 10

FUZZ = settings(
    max_examples=int(os.environ.get("DCN_FUZZ_EXAMPLES", "120")),
    deadline=None,
    database=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: values an attacker or a careless colleague would try
HOSTILE = st.sampled_from(
    [
        "../../etc",
        "/etc/passwd",
        "%stackname%/../../x",
        "a]\n[database]\nconnection = mysql://evil",
        "x\rtransport_url = rabbit://evil",
        "a=b",
        "@@dcn-secret:MysqlRootPassword@@",
        "010",
        "1:40",
        "yes",
        "ff:ff:ff:ff:ff:ff",
        "01:00:5e:00:00:01",
        "00:00:00:00:00:00",
        "az:host",
        "UPPER_case",
        "a" * 300,
        "\u2028",
        "\x00",
        "",
        " ",
        "0.0.0.0/0",
        "::/0",
        "198.18.0.1",
        "fd00:dc:1::1",
        "-1",
    ]
)
WEIRD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.text(alphabet=st.characters(max_codepoint=0x2030), max_size=12),
    st.lists(st.integers(min_value=-3, max_value=3), max_size=3),
    st.dictionaries(st.text(max_size=6), st.integers(min_value=0, max_value=5), max_size=3),
    HOSTILE,
)


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


PATHS = [p for p in _paths(BASE) if p]


def _field_names() -> list[str]:
    """Every field name of the schema, so additions hit real fields, not only unknown ones."""
    from pydantic import BaseModel

    from dcn.model import description

    names = set()
    for obj in vars(description).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel) and obj is not BaseModel:
            names.update(obj.model_fields)
    return sorted(names | {"include", "nova.conf", "DEFAULT", "Controller", "DistributedCompute"})


FIELDS = _field_names()


def _parent(data: Any, path: tuple) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """The example with one to four changes of value, key or structure."""
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(PATHS))
        try:
            parent = _parent(data, path)
            key = path[-1]
            parent[key]  # the path may be gone after an earlier change
        except (KeyError, IndexError, TypeError):
            continue
        action = draw(st.sampled_from(["replace", "delete", "rename", "add", "copy"]))
        if action == "replace":
            parent[key] = draw(WEIRD)
        elif action == "delete":
            del parent[key]
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.one_of(HOSTILE, st.text(max_size=10)))] = parent.pop(key)
        elif action == "add" and isinstance(parent, dict):
            name = draw(st.one_of(st.sampled_from(FIELDS), HOSTILE, st.text(max_size=10)))
            parent[name] = draw(st.one_of(WEIRD, st.fixed_dictionaries({name: WEIRD})))
        elif action == "copy" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
    return data


@st.composite
def spliced(draw: st.DrawFn) -> str:
    """The example's text with a fragment inserted at some offset."""
    text = EXAMPLE.read_text()
    at = draw(st.integers(min_value=0, max_value=len(text)))
    fragment = draw(
        st.one_of(
            HOSTILE,
            st.text(max_size=20),
            st.sampled_from(["&a [1]\n", "*a", "!!python/object:os.system x", "? [a]\n", "{", "]"]),
        )
    )
    return text[:at] + fragment + text[at:]


class Hang(Exception):
    pass


@contextmanager
def hang_guard() -> Iterator[None]:
    def _raise(*_: object) -> None:
        raise Hang(f"no answer within {HANG_GUARD_S} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(HANG_GUARD_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def answer(text: str, export: str | None = None) -> str:
    """Run load, validate, plan and write as the CLI would; return what dcn answered."""
    with tempfile.TemporaryDirectory() as tmp, hang_guard():
        folder = Path(tmp)
        desc = folder / "dcn.yaml"
        desc.write_text(text, encoding="utf-8")
        if export is not None:
            (folder / "export.yaml").write_text(export, encoding="utf-8")
            (folder / "export.yaml").chmod(0o600)
        ws = Workspace(desc, folder / "state")
        try:
            result = ws.validation
            if not result.ok:
                assert result.errors and all(f.location.file for f in result.errors)
                return "findings"
            from dcn.plan.files import write_plan_files

            out = folder / "out"
            for r in ws.plan(record=False):
                check_rendered(r.plan)
                write_plan_files(r.plan, out / r.site)
            written = [p.resolve() for p in out.rglob("*")] if out.exists() else []
            assert all(p.is_relative_to(out.resolve()) for p in written)
            return "plan"
        except DcnError as exc:
            assert str(exc).strip(), "an error without a message"
            return "error"


def check_rendered(plan: Any) -> None:
    for node in plan.nodes:
        for path, spec in node.files.items():
            bad = [c for c in LINE_BREAKS if c in spec.content]
            assert not bad, f"{node.hostname}:{path} holds {bad!r}"


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=False)


def test_the_unchanged_example_plans() -> None:
    assert answer(EXAMPLE.read_text()) == "plan"


@FUZZ
@given(mutated())
def test_mutated_structure_gets_an_answer(data: dict[str, Any]) -> None:
    outcome = answer(dump(data))
    event(f"answered with {outcome}")
    assert outcome in ("findings", "plan", "error")


@FUZZ
@given(spliced())
def test_spliced_text_gets_an_answer(text: str) -> None:
    outcome = answer(text)
    event(f"answered with {outcome}")
    assert outcome in ("findings", "plan", "error")


@pytest.mark.parametrize(
    "section,option,value",
    [
        ("DEFAULT", "debug", "True\r[database]\rconnection = mysql://evil"),
        ("DEFAULT]\n[database", "connection", "mysql://evil"),
        ("DEFAULT", "x = y\nconnection", "mysql://evil"),
        ("DEFAULT", "transport_url", "rabbit://evil"),
        ("DEFAULT", "debug", "@@dcn-secret:MysqlRootPassword@@"),
    ],
)
def test_override_injection_is_refused(section: str, option: str, value: str) -> None:
    data = copy.deepcopy(BASE)
    data["sites"][1]["config_overrides"] = {"nova.conf": {section: {option: value}}}
    assert answer(dump(data)) == "findings"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The example's control-plane export, as data to mutate."""
    tmp = tmp_path_factory.mktemp("export")
    ws = Workspace(EXAMPLE, tmp / "state")
    ws.export("central", tmp / "export.yaml")
    return yaml.safe_load((tmp / "export.yaml").read_text())


EDGES_ONLY = dump(
    {
        **{k: v for k, v in BASE.items() if k != "sites"},
        "control_plane_export": "export.yaml",
        "sites": [s for s in BASE["sites"] if s["kind"] == "edge"],
    }
)


def test_the_unchanged_export_plans_the_edges(exported: dict[str, Any]) -> None:
    assert answer(EDGES_ONLY, dump(exported)) == "plan"


@FUZZ
@given(data=st.data())
def test_mutated_export_gets_an_answer(exported: dict[str, Any], data: st.DataObject) -> None:
    doc = copy.deepcopy(exported)
    paths = [p for p in _paths(doc) if p]
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(paths))
        try:
            parent = _parent(doc, path)
            parent[path[-1]] = data.draw(WEIRD)
        except (KeyError, IndexError, TypeError):
            continue
    outcome = answer(EDGES_ONLY, dump(doc))
    event(f"answered with {outcome}")
    assert outcome in ("findings", "plan", "error")
