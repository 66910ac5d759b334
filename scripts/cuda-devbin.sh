#!/usr/bin/env bash
# The CUDA checks for a lent GPU (../shared/docs/gpu.md): build here, run there.
#
#   bash scripts/cuda-devbin.sh build   # here: the CUDA parity tests (native/core/tests/*_cuda.rs
#                                       # and device_dispatch.rs) and the cuda_timing example,
#                                       # copied into .devbin/ (ignored by git)
#   bash scripts/cuda-devbin.sh run     # on the GPU machine (device tool: carry [".devbin"]):
#                                       # each test, then the timings; logs under $OUT (or .devbin/out)
#
# libcublas is part of the CUDA toolkit, not of the driver: `run` looks for libcublas.so.13 in the
# usual CUDA folders and in Python's site-packages (the nvidia-cublas wheel) and puts its folder
# on LD_LIBRARY_PATH; without it the cuBLAS tests print SKIPPED with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
build)
  args=()
  for f in native/core/tests/*_cuda.rs native/core/tests/device_dispatch.rs; do
    args+=(--test "$(basename "$f" .rs)")
  done
  rm -rf .devbin/tests && mkdir -p .devbin/tests
  cargo test --release -p sigvwap-core --features cuda --target-dir target/cuda -j2 --no-run \
    --message-format=json "${args[@]}" >.devbin/build.json
  grep -o '"executable":"[^"]*"' .devbin/build.json | cut -d'"' -f4 | while read -r exe; do
    name=$(basename "$exe")
    cp "$exe" ".devbin/tests/${name%-*}"
  done
  cargo build --release -p sigvwap-core --features cuda --target-dir target/cuda -j2 --example cuda_timing
  cp target/cuda/release/examples/cuda_timing .devbin/
  rm .devbin/build.json
  ls -la .devbin .devbin/tests
  ;;
run)
  out=${OUT:-.devbin/out}
  mkdir -p "$out"
  lib=""
  roots=(/usr/local/cuda/lib64 /usr/local/cuda*/lib64 /usr/lib/x86_64-linux-gnu)
  if command -v python3 >/dev/null; then
    while read -r d; do roots+=("$d"); done < <(python3 -c 'import site; print("\n".join(site.getsitepackages()))' 2>/dev/null || true)
  fi
  for d in "${roots[@]}"; do
    [ -d "$d" ] || continue
    lib=$(find "$d" -maxdepth 5 -name 'libcublas.so.13*' 2>/dev/null | head -1)
    [ -n "$lib" ] && break
  done
  if [ -n "$lib" ]; then
    export LD_LIBRARY_PATH="$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "libcublas: $lib" | tee "$out/env.log"
  else
    echo "libcublas.so.13 not found: the cuBLAS tests will print SKIPPED" | tee "$out/env.log"
  fi
  (nvidia-smi -L || true) 2>&1 | tee -a "$out/env.log"
  status=0
  for t in .devbin/tests/*; do
    echo "== $t" | tee -a "$out/tests.log"
    "$t" --show-output --test-threads 1 2>&1 | tee -a "$out/tests.log" || status=1
  done
  echo "== cuda_timing" | tee "$out/timing.log"
  ./.devbin/cuda_timing 2>&1 | tee -a "$out/timing.log" || status=1
  grep -E "test result|SKIPPED|panicked" "$out/tests.log" || true
  exit $status
  ;;
*)
  echo "usage: bash scripts/cuda-devbin.sh build|run" >&2
  exit 2
  ;;
esac
