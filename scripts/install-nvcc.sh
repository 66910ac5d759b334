#!/usr/bin/env bash
# Install nvcc 13.0.x (and the headers it needs) from PyPI into .cuda/ (git-ignored).
# Pinned to 13.0: the GPU machines run driver 580 = CUDA 13.0, which cannot JIT newer PTX.
# Usage: bash scripts/install-nvcc.sh   (idempotent; prints the nvcc path)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cuda"
find_nvcc() { find "$dest" -path '*/bin/nvcc' -type f 2>/dev/null | head -n 1; }
nvcc="$(find_nvcc || true)"
if [ -z "$nvcc" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location --target "$dest" \
    'nvidia-cuda-nvcc==13.0.88' 'nvidia-cuda-runtime==13.0.96' 'nvidia-cuda-crt==13.0.88' 'nvidia-cuda-cccl==13.0.85' 'nvidia-nvvm==13.0.88' >&2
  nvcc="$(find_nvcc)"
fi
[ -n "$nvcc" ] || { echo "install-nvcc: nvcc not found under $dest after install" >&2; exit 1; }
chmod +x "$nvcc" "$(dirname "$nvcc")"/* 2>/dev/null || true
echo "$nvcc"
