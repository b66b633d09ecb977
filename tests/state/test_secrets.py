"""Secrets: generated once, stable across re-opening, imported, never shown."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from dcn.errors import StateError
from dcn.state import Store
from dcn.state.schema import Secret


def counter() -> tuple[list[str], object]:
    asked: list[str] = []
    numbers = itertools.count()

    def generate(name: str) -> str:
        asked.append(name)
        return f"{name}-value-{next(numbers)}"

    return asked, generate


def never(name: str) -> str:
    raise AssertionError(f"{name} generated a second time")


def test_generated_once_and_stable_across_reopen(state_dir: Path) -> None:
    asked, generate = counter()
    with Store.open(state_dir) as store:
        first = store.ensure_secrets("lab", ["RabbitPassword", "AdminPassword"], generate)
        assert asked == ["RabbitPassword", "AdminPassword"]
        more = store.ensure_secrets("lab", ["AdminPassword", "NovaPassword"], generate)
        assert asked == ["RabbitPassword", "AdminPassword", "NovaPassword"]
        assert more["AdminPassword"] == first["AdminPassword"]
        assert list(more) == ["AdminPassword", "NovaPassword"]  # only what was asked
    with Store.open(state_dir) as store:
        again = store.ensure_secrets("lab", ["RabbitPassword", "AdminPassword"], never)
        assert again == first
        assert store.get_secrets("lab") == {**first, **more}
        assert store.secret_names("lab") == ["AdminPassword", "NovaPassword", "RabbitPassword"]


def test_deployments_do_not_share_secrets(store: Store) -> None:
    _, generate = counter()
    a = store.ensure_secrets("a", ["AdminPassword"], generate)
    b = store.ensure_secrets("b", ["AdminPassword"], generate)
    assert a != b
    assert store.get_secrets("nowhere") == {} and store.secret_names("nowhere") == []


def test_failing_generator_stores_nothing(store: Store) -> None:
    def broken(name: str) -> str:
        if name == "C":
            raise RuntimeError("entropy ran out")
        return "fine-" + name

    with pytest.raises(RuntimeError):
        store.ensure_secrets("lab", ["A", "B", "C"], broken)
    assert store.secret_names("lab") == []
    with pytest.raises(StateError, match="secret B has no value"):
        store.ensure_secrets("lab", ["A", "B"], lambda n: "" if n == "B" else "x")
    assert store.secret_names("lab") == []


def test_import_replaces_and_reports_changes(store: Store) -> None:
    store.ensure_secrets("lab", ["RabbitPassword", "Local"], lambda n: "mine-" + n)
    changed = store.import_secrets("lab", {"RabbitPassword": "theirs", "NovaPassword": "n"})
    assert changed == ["NovaPassword", "RabbitPassword"]
    assert store.import_secrets("lab", {"RabbitPassword": "theirs"}) == []
    assert store.get_secrets("lab") == {
        "Local": "mine-Local",
        "NovaPassword": "n",
        "RabbitPassword": "theirs",
    }


def test_values_never_in_reprs_or_errors(store: Store) -> None:
    store.ensure_secrets("lab", ["AdminPassword"], lambda n: "s3cr3t-value")
    row = Secret(deployment_id=1, name="AdminPassword", value="s3cr3t-value")
    assert "s3cr3t" not in repr(row) and "AdminPassword" in repr(row)
    assert "s3cr3t" not in repr(store)
    with pytest.raises(StateError) as exc:
        store.import_secrets("lab", {"AdminPassword": "s3cr3t-value", "Empty": ""})
    assert "s3cr3t" not in str(exc.value) + exc.value.hint + repr(exc.value)
    assert store.get_secrets("lab") == {"AdminPassword": "s3cr3t-value"}
