"""Programs that run *on* a node, not in dcn: the control of its units and the small
scripts deploy steps run there. They use only the standard library and, where they
talk to OpenStack, the node's own OpenStack virtualenv; dcn ships them as files.
"""

from __future__ import annotations

from importlib.resources import files


def source(name: str) -> str:
    """The text of node program `name` (e.g. ``unitctl.py``), to ship as a file."""
    return files(__package__).joinpath(name).read_text()
