"""How dcn keeps Python's cyclic garbage collector from re-walking a large description.

A 5,000-site description is millions of small objects (plain data, marks, models). While
they are being built, every few thousand allocations start a collection, and the full
ones walk everything built so far: about a fifth of loading and validating. Nothing
built then forms reference cycles worth collecting early, so the collector waits until
the phase is over; planning keeps what exists before it out of the collector entirely.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic collection while a bounded phase builds long-lived data (loading,
    validating); the collector's previous state is restored afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def settled_heap() -> Iterator[None]:
    """Keep what exists before a phase (the description, its parse) out of the cyclic
    collector while it runs: a full collection would walk it again each time the phase's
    allocations trigger one."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
