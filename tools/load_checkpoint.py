#!/usr/bin/python3
"""load_checkpoint.py: loads a DigitLab checkpoint into PyTorch with plain parsing (no safetensors package),
shows its metadata, rebuilds the same architecture in torch, and optionally measures test accuracy there.

The file is safetensors: u64 little-endian header length N, N bytes of JSON, then raw little-endian float32 data.
Tensor names are PyTorch state_dict names; entries named "optimizer.*" hold DigitLab's optimizer state and are skipped.

Usage:
  /usr/bin/python3 tools/load_checkpoint.py runs/mlp-....safetensors [--mnist ~/.digitlab/data/mnist]
"""
import argparse
import json
import os
import struct
import sys
from collections import OrderedDict

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import build  # noqa: E402  (the zoo's architectures, shared with the other tools)


def read_safetensors(path):
    """Returns (metadata dict, OrderedDict name -> float32 tensor), validating the layout."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        sys.exit(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        sys.exit(f"{path}: header length {n} runs past the end of the file ({len(data)} bytes)")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    buffer = memoryview(data)[8 + n:]
    tensors = OrderedDict()
    for name, entry in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        if entry["dtype"] != "F32":
            sys.exit(f"{path}: tensor {name} has dtype {entry['dtype']}, expected F32")
        begin, end = entry["data_offsets"]
        t = torch.frombuffer(bytearray(buffer[begin:end]), dtype=torch.float32) if end > begin else torch.zeros(0)
        tensors[name] = t.reshape(entry["shape"])
    return metadata, tensors


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    (magic,) = struct.unpack(">I", data[:4])
    dims = struct.unpack(">" + "I" * (magic & 0xFF), data[4:4 + 4 * (magic & 0xFF)])
    return torch.frombuffer(bytearray(data[4 + 4 * len(dims):]), dtype=torch.uint8).reshape(dims)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--mnist", help="folder with t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte: evaluate in PyTorch")
    args = ap.parse_args()

    meta, tensors = read_safetensors(args.checkpoint)
    arch = meta["architecture"]
    options = json.loads(meta.get("model_options", "{}"))
    norm = json.loads(meta["normalization"])
    print(f"architecture {arch}, DigitLab {meta.get('digitlab_version')}, seed {meta.get('seed')}, normalization {norm}")
    if "final_metrics" in meta:
        print("final metrics (DigitLab):", meta["final_metrics"])
    state = OrderedDict((k, v) for k, v in tensors.items() if not k.startswith("optimizer."))
    print(f"{len(state)} model tensors, {sum(v.numel() for k, v in state.items() if 'running_' not in k and not k.endswith('num_batches_tracked')):,} parameters, "
          f"{len(tensors) - len(state)} optimizer tensors")

    model = build(arch, options.get("Dropout", True))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]  # older files may lack the counter
    if missing or unexpected:
        sys.exit(f"state_dict mismatch: missing {missing}, unexpected {unexpected}")
    print("loaded into PyTorch:", type(model).__name__)
    model.eval()

    if args.mnist:
        x = read_idx(os.path.join(args.mnist, "t10k-images-idx3-ubyte")).float().div(255).sub(norm["mean"]).div(norm["std"])
        y = read_idx(os.path.join(args.mnist, "t10k-labels-idx1-ubyte")).long()
        with torch.no_grad():
            logits = torch.cat([model(x[i:i + 1000].unsqueeze(1)) for i in range(0, len(x), 1000)])
        loss = nn.functional.cross_entropy(logits, y).item()
        acc = (logits.argmax(1) == y).float().mean().item()
        print(f"PyTorch on the {len(y):,} test images: accuracy {acc * 100:.2f}%, loss {loss:.4f}")


if __name__ == "__main__":
    main()
