"""The fleet index: what a clean fleet holds, taken out and put back by site."""

from __future__ import annotations

from dcn.validate.fleetindex import FleetIndex
from dcn.validate.fleetwide import SiteSummary


def _site(
    i: int,
    name: str,
    cidr4: tuple[int, int],
    cidr6: tuple[int, int] | None = None,
    hosts: tuple[str, ...] = (),
) -> SiteSummary:
    leaves = [("ctlplane", f"x{i}", 4, *cidr4)]
    if cidr6:
        leaves.append(("tenant", f"y{i}", 6, *cidr6))
    return SiteSummary(i, name, name, False, [("Compute", list(hosts), None, 0)], [], [], leaves)


def test_a_clean_fleet_takes_sites_out_and_back() -> None:
    a = _site(0, "a", (0x0A000000, 0x0A00000F), (1 << 100, (1 << 100) + 255), ("a-0",))
    b = _site(1, "b", (0x0A000010, 0x0A00001F), None, ("b-0",))
    index = FleetIndex.of([a, b])
    again = FleetIndex.from_text(index.to_text())
    assert again == index
    assert index.remove(b) and index == FleetIndex.of([a])
    assert index.add(b) and index == FleetIndex.of([a, b])
    assert not index.remove(_site(2, "c", (0x0B000000, 0x0B00000F)))  # never put in


def test_a_duplicate_or_an_overlap_is_not_put_in() -> None:
    a = _site(0, "a", (0x0A000000, 0x0A00000F), None, ("a-0",))
    index = FleetIndex.of([a])
    assert not FleetIndex.of([a]).add(_site(1, "a", (0x0B000000, 0x0B00000F)))  # same name
    assert not FleetIndex.of([a]).add(_site(1, "b", (0x0B000000, 0x0B00000F), None, ("a-0",)))
    assert not index.add(_site(1, "b", (0x0A000008, 0x0A00001F)))  # overlaps the end
    assert not FleetIndex.of([a]).add(_site(1, "b", (0x09000000, 0x0A000000)))  # the start
    assert not FleetIndex.of([a]).add(_site(1, "b", (0x09000000, 0x0B000000)))  # around it
    assert FleetIndex.of([a]).add(_site(1, "b", (0x0A000010, 0x0A00001F)))  # just after


def test_text_that_is_not_an_index_is_refused() -> None:
    assert FleetIndex.from_text("zz  ") is None
    assert FleetIndex.from_text("abc  ") is None  # not a whole hash
    assert FleetIndex.from_text("a b") is None
