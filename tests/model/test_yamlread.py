"""YAML 1.2 core schema, refusal of 1.1-ambiguous scalars, and the loader's limits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dcn.errors import DescriptionError
from dcn.model import limits
from dcn.model.loader import load_yaml

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


def load_text(tmp_path: Path, text: str) -> dict:
    f = tmp_path / "d.yaml"
    f.write_text(text)
    return load_yaml(f).data


@pytest.mark.parametrize(
    "plain",
    [
        "010",
        "-010",
        "08",
        "1:40",
        "0b101",
        "1_000",
        "0o17",
        "1e3",
        "yes",
        "No",
        "ON",
        "off",
        "0x_1",
    ],
)
def test_ambiguous_plain_scalars_are_refused_at_their_line(tmp_path: Path, plain: str) -> None:
    with pytest.raises(DescriptionError) as exc:
        load_text(tmp_path, f"name: a\nvalue: {plain}\n")
    assert exc.value.location.line == 2
    assert "ambiguous" in exc.value.message and plain in exc.value.message
    assert "quote it" in exc.value.hint


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10", 10),
        ("0", 0),
        ("-3", -3),
        ("0x1F", 31),
        ("1.5", 1.5),
        ("true", True),
        ("False", False),
        ("~", None),
        ("null", None),
        ("'010'", "010"),
        ('"yes"', "yes"),
        ("yEs", "yEs"),
        ("2024-01-02", "2024-01-02"),
        ("a:b", "a:b"),
    ],
)
def test_core_schema_values(tmp_path: Path, text: str, value: object) -> None:
    assert load_text(tmp_path, f"v: {text}\n")["v"] == value


def test_explicit_tags_stay_refused(tmp_path: Path) -> None:
    with pytest.raises(DescriptionError, match="tag"):
        load_text(tmp_path, "v: !!python/object:os.system ls\n")
    with pytest.raises(DescriptionError, match="explicit YAML tag"):
        load_text(tmp_path, 'v: !!int "3"\n')


def test_alias_bomb_is_refused_naming_the_limit(tmp_path: Path) -> None:
    with pytest.raises(DescriptionError) as exc:
        load_text(tmp_path, BOMB)
    assert f"{limits.MAX_YAML_NODES:,}" in exc.value.message
    assert exc.value.location.file.endswith("d.yaml")


@pytest.mark.parametrize("deep", ["[" * 100_000, "[" * 500 + "]" * 500, "- " * 200 + "x"])
def test_deep_nesting_is_refused(tmp_path: Path, deep: str) -> None:
    with pytest.raises(DescriptionError) as exc:
        load_text(tmp_path, "v: " + deep if deep[0] == "[" else "v:\n" + deep)
    assert f"deeper than {limits.MAX_DEPTH}" in exc.value.message


def test_a_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    f = tmp_path / "big.yaml"
    with f.open("w") as fh:
        fh.truncate(limits.MAX_FILE_BYTES + 1)
    with pytest.raises(DescriptionError) as exc:
        load_yaml(f)
    assert f"{limits.MAX_FILE_BYTES:,} bytes" in exc.value.message and "big.yaml" in str(exc.value)


def test_a_device_is_not_read(tmp_path: Path) -> None:
    with pytest.raises(DescriptionError, match="not a regular file"):
        load_yaml("/dev/zero")


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "dcn.yaml"
    os.mkfifo(fifo)
    with pytest.raises(DescriptionError, match="not a regular file"):
        load_yaml(fifo)
