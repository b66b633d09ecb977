#!/usr/bin/env bash
# The test command: lint, then every test. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests bench examples
.venv/bin/python -m pytest "$@"
