#!/bin/bash
# The GPU benchmark in one command (copied into the pack as run.sh by `npm run bench:gpu -- pack`; bench/README-gpu.md).
#   bash .cache/gpu-pack/run.sh [shape ...]
# Shapes (default: gpt2-small qwen2.5-0.5b llama-3.2-1b; smollm2-360m also exists). For each: write the random BF16
# HF folder, run Winnow on webgpu, then PyTorch (CUDA, else CPU) on the same folder and ids; then join everything.
# Environment:
#   OUT       results folder (default: <pack>/out): gpu-<date>.json, table.txt, env.txt, per-model JSON and logs
#   SMOKE=1   tiny shapes (the SwiftShader proof)
#   SIZES     batch × sequence sizes instead of the shapes' own (2x256,8x512), e.g. SIZES=1x128,16x512
#   BUDGET_S  wall-clock budget for the whole run, seconds (default 480); a step that would pass it is cut short
#   WORK      scratch folder for the unpacked binaries and the models (default /tmp/winnow-gpu-bench)
#   PYTHON    python with torch (default: the first of python3, /usr/bin/python3, python that imports torch)
#   VK_ICD_FILENAMES  the Vulkan driver to use (default: NVIDIA's ICD file where one is found)
set -u
PACK=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$PACK/out}
WORK=${WORK:-/tmp/winnow-gpu-bench}
BUDGET_S=${BUDGET_S:-480}
SMOKE=${SMOKE:-}
START=$(date +%s)
DEADLINE=$((START + BUDGET_S))
mkdir -p "$OUT" "$WORK/models"
OUT=$(cd "$OUT" && pwd)
WORK=$(cd "$WORK" && pwd)
ENVF="$OUT/env.txt"
: > "$ENVF"
say() { echo "$*" | tee -a "$ENVF"; }

unxz_to() { # src dst
  if command -v xz > /dev/null; then xz -dc "$1" > "$2"; else "${PY_ANY:-python3}" -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}
PY_ANY=$(command -v python3 || command -v python || echo python3)

# --- unpack: node, and app/ (the engine + bench bundle with its node_modules, dawn.node included)
if [ ! -x "$WORK/node" ] || [ "$PACK/node.xz" -nt "$WORK/node" ]; then unxz_to "$PACK/node.xz" "$WORK/node.tmp" && mv "$WORK/node.tmp" "$WORK/node" && chmod +x "$WORK/node"; fi
rm -rf "$WORK/app" && mkdir -p "$WORK/app"
if command -v xz > /dev/null; then tar -xJf "$PACK/app.tar.xz" -C "$WORK/app"; else "$PY_ANY" -c 'import sys,tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$PACK/app.tar.xz" "$WORK/app"; fi
NODE="$WORK/node"
cd "$WORK/app" # the engine resolves its run-time packages (webgpu, tfjs-backend-webgpu) from here
say "pack: $(tr -d '\n' < "$PACK/MANIFEST.json" | sed 's/"files".*"totalBytes"/"totalBytes"/')"
say "node: $("$NODE" --version 2>&1)"
say "host: $(uname -srm); $(nproc) cpus; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"

# --- Vulkan: the loader (system one if ldconfig knows it, else the pack's), the driver (NVIDIA's ICD if present)
if ldconfig -p 2> /dev/null | grep -q 'libvulkan\.so\.1'; then
  say "vulkan loader: system ($(ldconfig -p | grep -m1 'libvulkan\.so\.1' | sed 's/.*=> //'))"
else
  export LD_LIBRARY_PATH="$PACK/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export WINNOW_VULKAN_DIR="$PACK/lib" # the engine preloads the loader from here (compute/webgpu.ts), before any other folder
  say "vulkan loader: the pack's lib/libvulkan.so.1 (Debian libvulkan1)"
fi
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
done
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -z "${VK_DRIVER_FILES:-}" ]; then
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json \
    /usr/local/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.x86_64.json /etc/vulkan/icd.d/nvidia_icd.x86_64.json; do
    if [ -f "$f" ]; then export VK_ICD_FILENAMES="$f" VK_DRIVER_FILES="$f"; break; fi
  done
  if [ -z "${VK_ICD_FILENAMES:-}" ]; then
    f=$(find /usr/local/nvidia /usr/share/vulkan /etc/vulkan /usr/local/share /opt -maxdepth 5 -name 'nvidia_icd*.json' 2> /dev/null | head -1)
    [ -n "$f" ] && export VK_ICD_FILENAMES="$f" VK_DRIVER_FILES="$f"
  fi
fi
say "VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-} VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
[ -n "${VK_ICD_FILENAMES:-}" ] && [ -f "$VK_ICD_FILENAMES" ] && say "icd: $(tr -d '\n ' < "$VK_ICD_FILENAMES")"
say "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
if command -v nvidia-smi > /dev/null; then
  say "nvidia-smi: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -3)"
fi

# --- python with torch
PY=""
for p in ${PYTHON:-} python3 /usr/bin/python3 python; do
  if command -v "$p" > /dev/null && "$p" -c 'import torch' 2> /dev/null; then PY=$p; break; fi
done
if [ -n "$PY" ]; then
  say "torch: $PY $("$PY" -c 'import torch; print(torch.__version__, "cuda" if torch.cuda.is_available() else "no cuda", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' 2>&1)"
else
  say "torch: no python with torch found; the PyTorch side is skipped"
fi

# --- steps, each cut at the budget
left() { echo $((DEADLINE - $(date +%s))); }
step() { # limit_s log cmd...
  local limit=$1 log=$2
  shift 2
  local l
  l=$(left)
  l=$((l - 20))
  [ "$l" -lt "$limit" ] && limit=$l
  if [ "$limit" -lt 15 ]; then
    say "skipped (budget spent): $*"
    return 124
  fi
  timeout -k 5 "$limit" "$@" > >(tee -a "$log") 2>&1
  local rc=$?
  [ $rc -ne 0 ] && say "exit $rc after ≤ ${limit}s: $(basename "$1") ${2:-} ${3:-} ${4:-} ${5:-}"
  return $rc
}
smi_start() { # file
  SMI_PID=""
  if command -v nvidia-smi > /dev/null; then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$1" 2> /dev/null &
    SMI_PID=$!
    sleep 0.3
  fi
}
smi_stop() { [ -n "${SMI_PID:-}" ] && kill "$SMI_PID" 2> /dev/null && wait "$SMI_PID" 2> /dev/null; SMI_PID=""; }

SMOKEF=()
[ -n "$SMOKE" ] && SMOKEF=(--smoke)
[ -n "${SIZES:-}" ] && SMOKEF+=(--sizes "$SIZES")
if [ $# -gt 0 ]; then SHAPES=("$@"); elif [ -n "$SMOKE" ]; then SHAPES=(gpt2-small qwen2.5-0.5b smollm2-360m llama-3.2-1b); else SHAPES=(gpt2-small qwen2.5-0.5b llama-3.2-1b); fi

step 60 "$OUT/info.log" "$NODE" bench.cjs info --backend webgpu
for s in "${SHAPES[@]}"; do
  dir="$WORK/models/${SMOKE:+smoke-}$s"
  say "== $s ($(left) s left)"
  step 120 "$OUT/gen-$s.log" "$NODE" --max-old-space-size=8192 bench.cjs gen --shape "$s" --dir "$dir" --tokenizer "$PACK/tokenizer" ${SMOKEF[@]+"${SMOKEF[@]}"} || continue
  smi_start "$OUT/smi-webgpu-$s.txt"
  step 200 "$OUT/webgpu-$s.log" "$NODE" --max-old-space-size=16384 bench.cjs bench --shape "$s" --dir "$dir" --out "$OUT/webgpu-$s.json" --backend webgpu ${SMOKEF[@]+"${SMOKEF[@]}"}
  smi_stop
  if [ -n "$PY" ]; then
    smi_start "$OUT/smi-torch-$s.txt"
    step 120 "$OUT/torch-$s.log" "$PY" "$PACK/gpu_torch.py" --dir "$dir" --out "$OUT/torch-$s.json" ${SMOKE:+--reps 2}
    smi_stop
  fi
done
DATE=$(date -u +%Y-%m-%d)
SUFFIX=""
[ -n "$SMOKE" ] && SUFFIX="-smoke"
"$NODE" bench.cjs merge --in "$OUT" --out "$OUT/gpu-$DATE$SUFFIX.json" --table "$OUT/table.txt"
say "done in $(($(date +%s) - START)) s; results: $OUT/gpu-$DATE$SUFFIX.json, $OUT/table.txt"
