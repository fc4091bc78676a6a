#!/usr/bin/env bash
# `arst bench` on one borrowed H100, as one prepared run that plans for about 8 minutes
# and stops itself by 9 (BUDGET_S), compilation included:
#   1. the GPU's name and the software's versions;
#   2. the tests that use CUDA (-k cuda: the eager bf16 bench, the asynchronous loss log;
#      seconds);
#   3. the benchmark with every default: as shipped vs fast path, training at 256x256 batch 8,
#      the 100-step numerics check, the data path alone with 0 and 4 worker processes,
#      stylizing at 256, 512 and 1920x1080 (about 4 minutes);
#   4. only if 180 s are left: training and 1920x1080 again with the 3-channel convolutions
#      padded to 8 channels (--channel-multiple 8; the same results), to decide whether
#      that becomes the default on CUDA (nn/ops.py says why it might).
# It needs no network and installs nothing: the machine's python3 has torch 2.11,
# torchvision 0.26 and every module arst imports (numpy, pillow, pyyaml, tqdm, requests,
# pandas, scipy, scikit-image, matplotlib, pytest; /work/.library/device/KINDS.md), and
# `python3 -m arst bench` imports no other verb's module. Run from the repository root:
#   bash scripts/gpu-bench.sh        (results in $OUT, else ./bench-out)
set -uo pipefail
OUT=${OUT:-$PWD/bench-out}
BUDGET_S=${BUDGET_S:-540}
mkdir -p "$OUT"
export PYTHONPATH=src PYTHONUNBUFFERED=1
# Any graph break or recompilation in the compiled step is worth seeing: each costs speed.
export TORCH_LOGS=${TORCH_LOGS:-graph_breaks,recompiles}
left() { echo $((BUDGET_S - SECONDS)); }

{
  nvidia-smi -L
  python3 -c 'import sys, torch, torchvision; print("python", sys.version.split()[0], "torch", torch.__version__,
"torchvision", torchvision.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name())'
} 2>&1 | tee "$OUT/env.txt"

timeout -k 5 120 python3 -m pytest -q -p no:cacheprovider tests/test_bench.py tests/test_train.py -k cuda 2>&1 | tee "$OUT/tests.txt"

timeout -k 10 "$(($(left) - 10))" python3 -m arst bench --json "$OUT/bench.json" --profile "$OUT/profile.txt" \
  2>&1 | tee "$OUT/bench.txt"
echo "main bench: exit ${PIPESTATUS[0]} at ${SECONDS}s" | tee -a "$OUT/bench.txt"

if [ "$(left)" -ge 180 ]; then
  timeout -k 10 "$(($(left) - 10))" python3 -m arst bench --channel-multiple 8 --sizes 1920x1080 \
    --data-steps 0 --numerics-steps 20 --numerics-last 10 --json "$OUT/bench-padded.json" 2>&1 | tee "$OUT/bench-padded.txt"
  echo "padded bench: exit ${PIPESTATUS[0]} at ${SECONDS}s" | tee -a "$OUT/bench-padded.txt"
else
  echo "skipped the run with channels padded to 8: $(left)s left" | tee "$OUT/bench-padded.txt"
fi
