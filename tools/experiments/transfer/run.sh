#!/usr/bin/env bash
# The whole study in one command: trains every family (nice'd, one thread), then analyses.
# Usage: tools/experiments/transfer/run.sh [WEIGHTDRIFT_BINARY]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py="${PYTHON:-/work/venv-samples/bin/python}"
for fam in transformer gru bncnn_new bncnn_shared mlp; do
  nice -n 4 "$py" "$here/study.py" --only "$fam"
done
nice -n 4 "$py" "$here/analyse.py" ${1:+--weightdrift "$1"}
