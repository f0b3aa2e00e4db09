#!/usr/bin/env bash
# Size and pip time of the two installs the README documents, each into a fresh virtual environment:
#   default:  pip install -e .                        (PyPI's torch: the CUDA build)
#   cpu:      pip install torch <CPU wheel>, then pip install -e .
# Usage: tests/bench/install_size.sh [TORCH_CPU_SPEC] [PIP_ARGS...]
#   TORCH_CPU_SPEC defaults to "torch --index-url https://download.pytorch.org/whl/cpu"; where that index is not
#   reachable but a CPU wheel is on local disk, pass e.g. "torch==2.13.0" (pip picks the local +cpu build).
# Prints wall and CPU seconds (user + sys) per pip step and the size of each environment; removes them after.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cpu_spec="${1:-torch --index-url https://download.pytorch.org/whl/cpu}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

step() {  # step NAME VENV ARGS... : time one pip install
  local name="$1" venv="$2"; shift 2
  /usr/bin/time -f "$name: wall %e s, cpu %U+%S s" "$venv/bin/pip" install --no-cache-dir -q "$@" 2>&1 | grep -v '^WARNING'
}

python3 -m venv "$work/default"
step "default: pip install -e ." "$work/default" -e "$repo"
python3 -m venv "$work/cpu"
# shellcheck disable=SC2086  # the spec is several words on purpose
step "cpu: pip install $cpu_spec" "$work/cpu" $cpu_spec
step "cpu: pip install -e ." "$work/cpu" -e "$repo"
for v in default cpu; do
  site="$work/$v/lib/python3*/site-packages"
  echo "$v: $(du -sh "$work/$v" | cut -f1) total; $(du -shc $site/nvidia $site/triton 2>/dev/null | tail -1 | cut -f1) CUDA+triton; torch $("$work/$v/bin/python" -c 'import torch; print(torch.__version__)')"
done
