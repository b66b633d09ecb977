"""How much a description or an imported export may hold: every loader limit in one place.

A description or an export may come from someone else. These bounds keep any of them
answered within seconds and well under 1 GiB: a refusal names the limit, its value
and the file, so an operator with a genuinely larger fleet knows what was hit.
"""

from __future__ import annotations

#: bytes of one YAML/JSON file (a 1,000-site description in one file is ~1 MiB)
MAX_FILE_BYTES = 16 * 1024 * 1024
#: bytes of every file of one description (or one export) together
MAX_TOTAL_BYTES = 64 * 1024 * 1024
#: YAML nodes produced while reading one description or export; an alias re-walks the
#: node it names, so an alias bomb ("billion laughs") is refused here
MAX_YAML_NODES = 2_000_000
#: nesting depth of mappings and sequences (a description needs about 10)
MAX_DEPTH = 64
#: files of one description, the top file and every included one
MAX_FILES = 20_000
#: include depth: a file including a file including a file ...
MAX_INCLUDE_DEPTH = 8
#: sites of one description, over every file: twice the 5,000 edge sites dcn is measured
#: at (bench/plan_scale.py); 20,000 took ~10 s to validate on a 2-core machine
MAX_SITES = 10_000
#: nodes of one description, summed from every role's count (or listed nodes): 10,000
#: sites of 10 computes, and room for sites at the 10,000-node role maximum
MAX_NODES = 150_000
