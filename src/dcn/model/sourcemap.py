"""Where each value of the description came from, so errors can name file and line."""

from __future__ import annotations

from collections.abc import Iterable

from dcn.errors import Location

Path = tuple[str | int, ...]


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

    def __init__(self, default_file: str) -> None:
        self.default_file = default_file
        self._marks: dict[Path, tuple[str, int, int]] = {}

    def record(self, path: Path, file: str, line: int, column: int) -> None:
        self._marks[path] = (file, line, column)

    def locate(self, path: Iterable[str | int]) -> Location:
        """The location of `path`, or of its nearest recorded parent."""
        full = tuple(path)
        probe = full
        while probe:
            mark = self._marks.get(probe)
            if mark is not None:
                return Location(mark[0], mark[1], mark[2], field_path(full))
            probe = probe[:-1]
        mark = self._marks.get(())
        if mark is not None:
            return Location(mark[0], mark[1], mark[2], field_path(full))
        return Location(self.default_file, None, None, field_path(full))

    def file_of(self, path: Iterable[str | int]) -> str:
        return self.locate(path).file
