#!/usr/bin/env bash
# The main job on the bundled example: validate, plan every site, export the control
# plane for the edge stacks, show the fleet status. Touches no host (deploying onto
# the local lab comes with the next capability).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export DCN_FILE=${DCN_FILE:-examples/dcn-basic.yaml}
export DCN_STATE_DIR=${DCN_STATE_DIR:-out/state}
dcn=.venv/bin/dcn
mkdir -p out
$dcn validate
$dcn plan
$dcn export central -o out/central-export.yaml --force
$dcn status
$dcn secrets list dcn0
