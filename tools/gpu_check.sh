#!/usr/bin/env bash
# gpu_check.sh: the one prepared run on a machine with an NVIDIA GPU (driver only; no .NET SDK, no CUDA toolkit, no network).
# Expects beside it: digitlab-linux-x64.tar.xz (a self-contained `dotnet publish src/DigitLab.Cli -r linux-x64 --self-contained`)
# and mnist/*.gz (the four MNIST files). Writes everything to $OUT/log (or ./gpu_check.log without $OUT).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
log="${OUT:-$here}/log"
work=/tmp/digitlab-gpu
mkdir -p "$work/data/mnist" "$work/runs"
tar -xJf "$here/digitlab-linux-x64.tar.xz" -C "$work"
cp "$here"/mnist/*.gz "$work/data/mnist/"
export DIGITLAB_DATA="$work/data" DOTNET_CLI_TELEMETRY_OPTOUT=1
dl="$work/DigitLab.Cli"
step() { echo "== $* ($(date -u +%T))"; "$@"; echo "== exit $?"; }
{
  nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv 2>&1
  step "$dl" devices
  step timeout 60 "$dl" devices --device cuda --check mlp,cnn,cnn-dropout,lenet5,lenet5-relu,net3,fast,best,resnet18,resnet18-small
  step timeout 90 "$dl" bench train --device cuda --models mlp,cnn,lenet5,net3,resnet18 --steps 200 --warmup 20 --batch-size 64
  step timeout 45 "$dl" bench train --device cuda --models fast,best --steps 200 --warmup 20 --batch-size 128
  step timeout 170 "$dl" train --model best --device cuda --out "$work/runs/best-cuda.safetensors"
  step timeout 30 "$dl" evaluate "$work/runs/best-cuda.safetensors" --device cuda
} 2>&1 | tee "$log"
