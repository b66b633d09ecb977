#!/usr/bin/env bash
# The main job on the bundled example (examples/dcn-basic.yaml), on the local lab:
# install what is needed, bring the lab up (each node a full Debian host with systemd,
# booted from a cached node image, on a routed spine-leaf fabric), deploy the central control plane, export it, deploy the two
# edge sites in parallel, boot a server in each edge availability zone, and show the
# status of every site and where each server runs.
#
#   bash scripts/demo.sh         # the main job (re-running it converges, changes nothing)
#   bash scripts/demo.sh down    # stop the lab and remove everything it created
#   bash scripts/demo.sh serve   # the web view of the same deployment (dcn serve)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export DCN_FILE=${DCN_FILE:-examples/dcn-basic.yaml}
export DCN_STATE_DIR=${DCN_STATE_DIR:-out/state}
dcn=.venv/bin/dcn
if [ "${1:-}" = "down" ]; then
  exec $dcn lab down
fi
if [ "${1:-}" = "serve" ]; then
  shift
  exec $dcn serve "$@"
fi
mkdir -p out
$dcn validate
$dcn lab up
$dcn deploy central
$dcn export central -o out/central-export.yaml --force
$dcn deploy dcn0 dcn1 --parallel 2
$dcn smoke
$dcn status
