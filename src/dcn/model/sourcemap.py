"""Where each value of the description came from, so errors can name file and line.

A description of 5,000 site files has about a million marks, and a valid one needs none
of them: only findings and errors look a place up. So a file's marks may be decoded
when first asked for (from the parse cache), and an included file's marks are not
copied into the including file's map but referred to: its list items (`sites`) as a
span of indices, its other keys by name.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable

from dcn.errors import Location

Path = tuple[str | int, ...]
Mark = tuple[str, int, int]


def field_path(path: Iterable[str | int]) -> str:
    """Render a path such as ``('sites', 2, 'roles')`` as ``sites[2].roles``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class SourceMap:
    """Maps a value's path in the loaded data to the place it was written."""

    def __init__(
        self, default_file: str, lazy: Callable[[], dict[Path, Mark]] | None = None
    ) -> None:
        self.default_file = default_file
        self._own: dict[Path, Mark] | None = None if lazy is not None else {}
        self._lazy = lazy
        #: list key -> (first index of each included file's items, that file's map)
        self._spans: dict[str, tuple[list[int], list[SourceMap]]] = {}
        #: key set by an included file -> that file's map
        self._adopted: dict[str, SourceMap] = {}

    @property
    def _marks(self) -> dict[Path, Mark]:
        """This file's own marks (decoded now if they were left for later)."""
        if self._own is None:
            assert self._lazy is not None
            self._own, self._lazy = self._lazy(), None
        return self._own

    def record(self, path: Path, file: str, line: int, column: int) -> None:
        self._marks[path] = (file, line, column)

    def include(self, key: str, first: int, sub: SourceMap) -> None:
        """`sub`'s items of list `key` are this map's items from index `first` on."""
        starts, maps = self._spans.setdefault(key, ([], []))
        starts.append(first)
        maps.append(sub)

    def adopt(self, key: str, sub: SourceMap) -> None:
        """Key `key` (not a list of items) was set by the file `sub` maps."""
        self._adopted[key] = sub

    def mark(self, path: Path) -> Mark | None:
        """The place `path` itself was written, if it was recorded."""
        found = self._marks.get(path)
        if found is not None or not path:
            return found
        head = path[0]
        if isinstance(head, str):
            adopted = self._adopted.get(head)
            if adopted is not None:
                return adopted.mark(path)
            span = self._spans.get(head)
            if span is not None and len(path) > 1 and type(path[1]) is int:
                starts, maps = span
                k = bisect_right(starts, path[1]) - 1
                if k >= 0:
                    return maps[k].mark((head, path[1] - starts[k], *path[2:]))
        return None

    def locate(self, path: Iterable[str | int]) -> Location:
        """The location of `path`, or of its nearest recorded parent."""
        full = tuple(path)
        probe = full
        while probe:
            mark = self.mark(probe)
            if mark is not None:
                return Location(mark[0], mark[1], mark[2], field_path(full))
            probe = probe[:-1]
        mark = self._marks.get(())
        if mark is not None:
            return Location(mark[0], mark[1], mark[2], field_path(full))
        return Location(self.default_file, None, None, field_path(full))

    def file_of(self, path: Iterable[str | int]) -> str:
        return self.locate(path).file
