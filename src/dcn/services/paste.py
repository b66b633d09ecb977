"""The APIs' paste pipelines, shipped with dcn so a plan shows every file a node gets.

They name only factories these releases provide (nova 34, neutron 29, glance 33) and
only the keystone-authenticated pipelines dcn deploys. Not subject to config
overrides: two services share the base name ``api-paste.ini``.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from dcn.plan.types import FileSpec
from dcn.services.render import file_spec


@cache
def paste_file(name: str) -> FileSpec:
    """The pipeline file `name` from ``dcn/templates/paste/`` (read once per process)."""
    text = files("dcn").joinpath("templates", "paste", name).read_text(encoding="utf-8")
    return file_spec(text)
