"""The collector is paused only while a phase runs, and left as the caller had it."""

from __future__ import annotations

import gc

import pytest

from dcn.heap import collector_paused, settled_heap


def test_collector_paused_restores_an_enabled_collector_even_after_an_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_collector_paused_leaves_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_settled_heap_freezes_what_exists_and_thaws_it_afterwards() -> None:
    gc.unfreeze()
    with settled_heap():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
