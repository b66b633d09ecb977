"""Bounded YAML reading with the YAML 1.2 core schema, keeping file:line of every value.

Shared by descriptions and imported exports, both possibly written by someone else.
PyYAML's C composer gives nodes with line marks; walking them ourselves lets us
catch duplicate keys (PyYAML silently keeps the last), count every node produced (an
alias re-walks the node it names, so an alias bomb stops at `MAX_YAML_NODES`), bound
the nesting depth, and resolve plain scalars by YAML 1.2 core rules. A plain scalar
that YAML 1.1 reads differently (``010``, ``1:40``, ``0b101``, ``1_000``, ``yes``,
``off``, ``1e3``, ...) is refused: the author meant one of the two readings and dcn
cannot tell which.
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass
from typing import Any

import yaml

from dcn.errors import DcnError, DescriptionError, Location
from dcn.model.limits import MAX_DEPTH, MAX_FILE_BYTES, MAX_TOTAL_BYTES, MAX_YAML_NODES
from dcn.model.sourcemap import Path, SourceMap

try:  # the C composer is ~10x faster; fall back to pure Python where libyaml is missing
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

_STR = "tag:yaml.org,2002:str"
#: YAML 1.1 dates stay text, as they are in YAML 1.2
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_RESOLVED = {
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_constructor = yaml.constructor.SafeConstructor()

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1023-core-schema)
_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT10 = re.compile(r"[-+]?[0-9]+")
_INT8 = re.compile(r"0o[0-7]+")
_INT16 = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
_NAN = re.compile(r"\.(?:nan|NaN|NAN)")
#: first characters of a plain scalar that YAML 1.2 may read as a number
_NUMERIC_START = frozenset("-+.0123456789")


def core_value(text: str) -> Any:
    """A plain scalar as the YAML 1.2 core schema reads it. ValueError for huge numbers."""
    if text in _NULL:
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT10.fullmatch(text):
        return int(text)
    if _INT8.fullmatch(text):
        return int(text[2:], 8)
    if _INT16.fullmatch(text):
        return int(text[2:], 16)
    if _FLOAT.fullmatch(text):
        return float(text)
    if _INF.fullmatch(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN.fullmatch(text):
        return math.nan
    return text


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and (a == b or (a != a and b != b))


@dataclass
class Budget:
    """What is left for one description or export: bytes read and YAML nodes produced."""

    bytes_left: int = MAX_TOTAL_BYTES
    nodes_left: int = MAX_YAML_NODES


def read_text(
    path: os.PathLike[str] | str, shown: str, budget: Budget, error: type[DcnError]
) -> str:
    """The UTF-8 text of a regular file within the size limits. FileNotFoundError passes."""
    # O_NONBLOCK: opening a FIFO must not wait for a writer; the type is checked first
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise error(
                f"{shown} is not a regular file",
                hint="give the path of a YAML file",
                location=Location(shown),
            )
        raw = fh.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise error(
            f"{shown} is larger than {MAX_FILE_BYTES:,} bytes (the per-file limit)",
            hint="split it into smaller files (include: [...]) or check that it is the right file",
            location=Location(shown),
        )
    budget.bytes_left -= len(raw)
    if budget.bytes_left < 0:
        raise error(
            f"reading {shown} passes {MAX_TOTAL_BYTES:,} bytes for all files together "
            "(the total size limit)",
            hint="check the includes and the files they match",
            location=Location(shown),
        )
    return raw.decode("utf-8")


def compose(text: str, file: str, error: type[DcnError] = DescriptionError) -> yaml.Node | None:
    """The YAML node tree of `text` (one document), or None for an empty file."""
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        problem = exc.problem or exc.context or "cannot parse"
        if "maximum nesting depth" in problem:
            raise _too_deep(file, line, error) from None
        # never str(exc): it quotes the offending line, which may hold a password
        raise error(
            f"not valid YAML: {problem}",
            hint="fix the YAML syntax at this position (indentation, quotes, colons)",
            location=Location(file, line, col),
        ) from None
    except RecursionError:  # pragma: no cover - the pure-Python composer only
        raise _too_deep(file, None, error) from None
    except yaml.YAMLError:  # pragma: no cover - composer errors are marked
        raise error("not valid YAML", location=Location(file)) from None


def _too_deep(file: str, line: int | None, error: type[DcnError]) -> DcnError:
    return error(
        f"mappings and lists nest deeper than {MAX_DEPTH} levels (the nesting limit)",
        hint="flatten the structure; a description needs about 10 levels",
        location=Location(file, line),
    )


class Walker:
    """Turns composed nodes into plain data, recording where each value was written.

    `echo` puts scalar text into messages; off for exports, whose values may be secrets.
    """

    def __init__(
        self,
        budget: Budget | None = None,
        error: type[DcnError] = DescriptionError,
        echo: bool = True,
    ) -> None:
        self.budget = budget or Budget()
        self.error = error
        self.echo = echo

    def _where(self, node: yaml.Node, file: str, field: str = "") -> Location:
        return Location(file, node.start_mark.line + 1, node.start_mark.column + 1, field)

    def walk(self, node: yaml.Node, file: str, smap: SourceMap, path: Path = ()) -> Any:
        """The plain data (dict/list/str/int/float/bool/None) of `node`."""
        return self._walk(node, path, file, smap, 0)

    def _walk(self, node: yaml.Node, path: Path, file: str, smap: SourceMap, depth: int) -> Any:
        budget = self.budget
        budget.nodes_left -= 1
        if budget.nodes_left < 0:
            raise self.error(
                f"{file} expands to more than {MAX_YAML_NODES:,} YAML values (the size "
                "limit; aliases such as *name count each time they are used)",
                hint="remove aliases that repeat large parts, or split the description",
                location=self._where(node, file),
            )
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, file)
        if depth >= MAX_DEPTH:
            raise _too_deep(file, node.start_mark.line + 1, self.error)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self.error(
                        "a mapping key must be a plain value", location=self._where(key_node, file)
                    )
                key = str(self.scalar(key_node, file))
                line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
                if key in out:
                    raise self.error(
                        f"key {key!r} is given twice in the same mapping",
                        hint="remove one of them: YAML would silently keep only the last",
                        location=Location(file, line, col, ".".join(map(str, (*path, key)))),
                    )
                smap.record((*path, key), file, line, col)
                out[key] = self._walk(value_node, (*path, key), file, smap, depth + 1)
            return out
        items = []
        for index, item in enumerate(node.value):
            smap.record((*path, index), file, item.start_mark.line + 1, item.start_mark.column + 1)
            items.append(self._walk(item, (*path, index), file, smap, depth + 1))
        return items

    def scalar(self, node: yaml.ScalarNode, file: str) -> Any:
        """A scalar's value: quoted text as is, plain text by YAML 1.2 core rules."""
        tag, text = node.tag, node.value
        if tag in (_STR, _TIMESTAMP):
            if not node.style and text[:1] in _NUMERIC_START:
                self._agree(node, file, text, text)
            return text
        if tag not in _RESOLVED:
            raise self.error(
                f"unsupported YAML tag {tag!r}",
                hint="use plain values; include other files with a top-level 'include:' list",
                location=self._where(node, file),
            )
        if node.style:  # a quoted value with an explicit tag (!!int "3")
            raise self.error(
                f"explicit YAML tag {tag!r} on a quoted value",
                hint="remove the tag: write numbers and true/false plainly, text in quotes",
                location=self._where(node, file),
            )
        try:
            old = _constructor.construct_object(node)
        except ValueError:  # a number too long for Python's int()
            old = text
        return self._agree(node, file, text, old)

    def _agree(self, node: yaml.ScalarNode, file: str, text: str, old: Any) -> Any:
        """The YAML 1.2 value of plain `text` when YAML 1.1 (`old`) agrees; else an error."""
        try:
            new = core_value(text)
        except ValueError:
            raise self.error(
                f"a number of {len(text)} digits is too long",
                hint="quote it if it is text",
                location=self._where(node, file),
            ) from None
        if _same(old, new):
            return new
        if not self.echo:
            raise self.error(
                "a plain value means different things in YAML 1.1 and YAML 1.2 (a leading "
                "zero, 1:40, 0b/0o, '_' in a number, yes/no/on/off, 1e3)",
                hint="quote the value if it is text; write numbers plainly in decimal",
                location=self._where(node, file),
            )
        if isinstance(old, bool):
            hint = f"write true or false for a yes/no setting, or quote it ('{text}') for text"
        else:
            hint = f"quote it ('{text}') if it is text, or write the number plainly in decimal"
        raise self.error(
            f"plain value {text} is ambiguous: YAML 1.1 reads {old!r}, YAML 1.2 reads {new!r}",
            hint=hint,
            location=self._where(node, file),
        )
