"""The one list of Tempest tests `dcn verify` leaves out by name, each with its reason.

A test goes here only when the cloud is right and the test still cannot pass: nova's
fake driver has no guest or hypervisor behind it, or the lab has no way out to the
internet. A feature Tempest can be told about is turned off in `config.FEATURE_FLAGS`
instead (Tempest then skips its tests itself). Tempest's ``--exclude-list`` leaves
these out of the run entirely: they are counted as excluded, never as skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A regex searched in Tempest test ids (stestr's exclude-list), and why."""

    pattern: str
    reason: str


EXCLUSIONS: tuple[Exclusion, ...] = (
    Exclusion(
        r"^tempest\.api\.compute\.admin\.test_hypervisor\.HypervisorAdminTestJSON"
        r"\.test_get_hypervisor_uptime\b",
        "nova's fake driver reports no host uptime: the uptime API answers 501",
    ),
    Exclusion(
        r"^tempest\.api\.image\.v2\.test_images\.ImportImagesTest"
        r"\.test_image_web_download_import\b",
        "glance downloads [image] http_image from the internet; lab nodes reach only "
        "their package mirror",
    ),
    Exclusion(
        r"^tempest\.api\.image\.v2\.admin\.test_images\.ImportCopyImagesTest"
        r"\.test_image_copy_image_import\b",
        "copy-image import copies between two glance stores; the control plane has one "
        "(file) store",
    ),
    Exclusion(
        r"^tempest\.api\.image\.v2\.test_images_dependency\.ImageDependencyTests"
        r"\.test_nova_image_snapshot_dependency\b",
        "a server snapshot needs a guest disk; nova's fake driver uploads no image data",
    ),
)


def exclude_list(exclusions: tuple[Exclusion, ...] = EXCLUSIONS) -> str:
    """The text of Tempest's ``--exclude-list`` file: ``regex # reason`` per line
    (stestr splits each line at its first ``#``, so no pattern may hold one)."""
    lines = []
    for item in exclusions:
        if "#" in item.pattern or "\n" in item.pattern + item.reason:
            raise ValueError(f"exclusion {item.pattern!r}: no '#' or line break allowed")
        re.compile(item.pattern)
        lines.append(f"{item.pattern}  # {item.reason.replace('#', '')}")
    return "".join(line + "\n" for line in lines)


def excluded(test_id: str, exclusions: tuple[Exclusion, ...] = EXCLUSIONS) -> Exclusion | None:
    """The exclusion that leaves `test_id` out, as stestr decides it (``re.search``)."""
    for item in exclusions:
        if re.search(item.pattern, test_id):
            return item
    return None
