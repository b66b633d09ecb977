"""The cross-site rules' view of a clean fleet, kept so an edit need not look at every site.

When a validation finds no cross-site finding, every name, AZ, host name, MAC and fixed
address of the fleet is unique (each in its kind) and no two leaves overlap. The memo
then keeps that state as sorted fixed-width hex strings: a 64-bit hash of every key,
and every leaf's first and last address. The next validation takes out what the
changed sites had and puts in what they have now, with binary searches and string
splices (no decoding of 5,000 summaries). A key or leaf that meets an existing one
(a real duplicate, an overlap, or a hash collision) means "not proven clean": the
caller then runs the cross-site rules on every summary, so the findings are exactly
those of a full validation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from dcn.validate.fleetwide import SiteSummary

#: hex digits of a key hash, and of a leaf's first and last address by IP version
HASH_WIDTH = 16
ADDRESS_WIDTH = {4: 8, 6: 32}


def site_keys(summary: SiteSummary) -> Iterator[str]:
    """What must be unique across the fleet, one kind per prefix."""
    yield f"n\0{summary.name}"
    yield f"a\0{summary.az}"
    for _, names in summary.host_names():
        for name in names:
            yield f"h\0{name}"
    for mac, *_ in summary.macs:
        yield f"m\0{mac}"
    for ip, *_ in summary.fixed:
        yield f"f\0{ip}"


def key_hash(key: str) -> str:
    return hashlib.blake2b(key.encode(), digest_size=HASH_WIDTH // 2).hexdigest()


def site_hashes(summary: SiteSummary) -> list[str]:
    return [key_hash(k) for k in site_keys(summary)]


def site_leaves(summary: SiteSummary) -> Iterator[tuple[int, str]]:
    """(IP version, record) of each leaf: first and last address, fixed-width hex."""
    for _, _, version, first, last in summary.leaves:
        width = ADDRESS_WIDTH[version]
        yield version, f"{first:0{width}x}{last:0{width}x}"


def _find(blob: str, width: int, key: str) -> int:
    """Index of the first record of `blob` (sorted, `width` characters each) whose first
    len(key) characters are not below `key`."""
    lo, hi, n = 0, len(blob) // width, len(key)
    while lo < hi:
        mid = (lo + hi) // 2
        if blob[mid * width : mid * width + n] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@dataclass
class FleetIndex:
    """Sorted key hashes and leaves of a clean fleet (see the module docstring)."""

    hashes: str = ""
    leaves4: str = ""
    leaves6: str = ""

    @classmethod
    def of(cls, summaries: Iterable[SiteSummary]) -> FleetIndex:
        """The index of a fleet whose cross-site rules found nothing."""
        hashes: list[str] = []
        leaves: dict[int, list[str]] = {4: [], 6: []}
        for s in summaries:
            hashes.extend(site_hashes(s))
            for version, record in site_leaves(s):
                leaves[version].append(record)
        return cls("".join(sorted(hashes)), "".join(sorted(leaves[4])), "".join(sorted(leaves[6])))

    def _blob(self, version: int) -> str:
        return self.leaves4 if version == 4 else self.leaves6

    def _set_blob(self, version: int, blob: str) -> None:
        if version == 4:
            self.leaves4 = blob
        else:
            self.leaves6 = blob

    def remove(self, summary: SiteSummary) -> bool:
        """Take out what `summary` put in; False if something of it is not there."""
        for h in site_hashes(summary):
            at = _find(self.hashes, HASH_WIDTH, h) * HASH_WIDTH
            if self.hashes[at : at + HASH_WIDTH] != h:
                return False
            self.hashes = self.hashes[:at] + self.hashes[at + HASH_WIDTH :]
        for version, record in site_leaves(summary):
            blob, width = self._blob(version), 2 * ADDRESS_WIDTH[version]
            at = _find(blob, width, record) * width
            if blob[at : at + width] != record:
                return False
            self._set_blob(version, blob[:at] + blob[at + width :])
        return True

    def add(self, summary: SiteSummary) -> bool:
        """Put in what `summary` has; False if a key or leaf meets one already there
        (the index is then no longer usable)."""
        for h in site_hashes(summary):
            at = _find(self.hashes, HASH_WIDTH, h) * HASH_WIDTH
            if self.hashes[at : at + HASH_WIDTH] == h:
                return False
            self.hashes = self.hashes[:at] + h + self.hashes[at:]
        for version, record in site_leaves(summary):
            blob, half = self._blob(version), ADDRESS_WIDTH[version]
            width = 2 * half
            k = _find(blob, width, record[:half])
            before = blob[(k - 1) * width : k * width] if k else ""
            after = blob[k * width : (k + 1) * width]
            # sorted by first address: overlap is the one before reaching this first
            # address, or the one after starting at or before this last address
            if (before and before[half:] >= record[:half]) or (
                after and after[:half] <= record[half:]
            ):
                return False
            self._set_blob(version, blob[: k * width] + record + blob[k * width :])
        return True

    def to_text(self) -> str:
        return f"{self.hashes} {self.leaves4} {self.leaves6}"

    @classmethod
    def from_text(cls, text: str) -> FleetIndex | None:
        parts = text.split(" ")
        if len(parts) != 3:
            return None
        index = cls(*parts)
        widths = (HASH_WIDTH, 2 * ADDRESS_WIDTH[4], 2 * ADDRESS_WIDTH[6])
        for blob, width in zip(parts, widths, strict=True):
            if len(blob) % width or not all(c in "0123456789abcdef" for c in set(blob)):
                return None
        return index
