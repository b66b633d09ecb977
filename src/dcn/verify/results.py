"""A Tempest run's results per API area. Pure: parses text, touches nothing.

The run's subunit stream is turned into CSV by python-subunit's ``subunit2csv`` (in
Tempest's own virtualenv, so dcn needs no subunit library): one row per test with
its status. A class whose setup failed is one row, ``setUpClass (tempest.x.Class)``:
it counts as one failure of the class's area, since none of its tests ran.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from dcn.verify.areas import AREAS, area_of

#: subunit/testtools statuses: an expected failure is the test passing its check;
#: an unexpected success or a test still "in progress" at the end (a worker died) fail
PASSED = frozenset({"success", "xfail"})
SKIPPED = frozenset({"skip"})
FAILED = frozenset({"fail", "failure", "error", "uxsuccess", "inprogress"})


@dataclass(slots=True)
class AreaResult:
    area: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failed_tests: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "area": self.area,
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "failed_tests": list(self.failed_tests),
        }


@dataclass(slots=True)
class RunResults:
    #: every area in `AREAS` order, those without a test too (a run shows them as 0)
    areas: dict[str, AreaResult]

    @property
    def total(self) -> AreaResult:
        total = AreaResult("total")
        for r in self.areas.values():
            total.passed += r.passed
            total.failed += r.failed
            total.skipped += r.skipped
            total.failed_tests += r.failed_tests
        return total

    @property
    def ran(self) -> int:
        t = self.total
        return t.passed + t.failed + t.skipped


def display_name(test_id: str) -> str:
    """A test id as people read it: without Tempest's ``[id-...,smoke]`` attributes."""
    test_id = test_id.strip()
    if test_id.endswith("]") and "[" in test_id:
        return test_id[: test_id.index("[")]
    return test_id


def parse_csv(text: str) -> RunResults:
    """Count ``subunit2csv`` rows per area; rows of unknown status (``exists``, a
    listing's) are not results and are left out."""
    areas = {name: AreaResult(name) for name in AREAS}
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        return RunResults(areas)
    if not {"test", "status"} <= set(reader.fieldnames):
        raise ValueError(f"not subunit2csv output: columns {reader.fieldnames}")
    for row in reader:
        test_id, status = row["test"] or "", (row["status"] or "").strip()
        if not test_id:
            continue
        result = areas[area_of(test_id)]
        if status in PASSED:
            result.passed += 1
        elif status in SKIPPED:
            result.skipped += 1
        elif status in FAILED:
            result.failed += 1
            result.failed_tests.append(display_name(test_id))
    for result in areas.values():
        result.failed_tests.sort()
    return RunResults(areas)
