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


def build(arch, dropout=True):
    """The same architectures as src/DigitLab/Models, with the same state_dict names."""
    S = lambda *layers: nn.Sequential(OrderedDict(layers))
    if arch == "mlp":
        return S(("flatten", nn.Flatten()), ("fc1", nn.Linear(784, 128)), ("relu", nn.ReLU()), ("fc2", nn.Linear(128, 10)))
    if arch in ("cnn", "cnn-dropout"):
        layers = [("conv1", nn.Conv2d(1, 32, 3, padding=1)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
                  ("conv2", nn.Conv2d(32, 64, 3, padding=1)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
                  ("flatten", nn.Flatten())]
        if arch == "cnn-dropout":
            layers.append(("dropout1", nn.Dropout(0.25 if dropout else 0)))
        layers += [("fc1", nn.Linear(3136, 128)), ("relu3", nn.ReLU())]
        if arch == "cnn-dropout":
            layers.append(("dropout2", nn.Dropout(0.5 if dropout else 0)))
        layers.append(("fc2", nn.Linear(128, 10)))
        return S(*layers)
    if arch in ("lenet5", "lenet5-relu"):
        relu = arch == "lenet5-relu"
        act = lambda: nn.ReLU() if relu else nn.Sigmoid()
        pool = lambda: nn.MaxPool2d(2) if relu else nn.AvgPool2d(2)
        return S(("conv1", nn.Conv2d(1, 6, 5, padding=2)), ("act1", act()), ("pool1", pool()),
                 ("conv2", nn.Conv2d(6, 16, 5)), ("act2", act()), ("pool2", pool()), ("flatten", nn.Flatten()),
                 ("fc1", nn.Linear(400, 120)), ("act3", act()), ("fc2", nn.Linear(120, 84)), ("act4", act()),
                 ("fc3", nn.Linear(84, 10)))
    if arch == "net3":
        r = lambda p: p if dropout else 0.0
        return S(("conv1", nn.Conv2d(1, 32, 5)), ("relu1", nn.ReLU()), ("conv2", nn.Conv2d(32, 32, 5)), ("relu2", nn.ReLU()),
                 ("pool1", nn.MaxPool2d(2)), ("dropout1", nn.Dropout(r(0.25))), ("conv3", nn.Conv2d(32, 64, 5)),
                 ("relu3", nn.ReLU()), ("pool2", nn.MaxPool2d(2)), ("dropout2", nn.Dropout(r(0.25))), ("flatten", nn.Flatten()),
                 ("fc1", nn.Linear(576, 256)), ("relu4", nn.ReLU()), ("dropout3", nn.Dropout(r(0.5))), ("fc2", nn.Linear(256, 10)))
    if arch == "fast":
        block = lambda i, o, k: [(f"conv{k}", nn.Conv2d(i, o, 3, padding=1, bias=False)), (f"bn{k}", nn.BatchNorm2d(o)),
                                 (f"relu{k}", nn.ReLU()), (f"pool{k}", nn.MaxPool2d(2))]
        return S(*block(1, 12, 1), *block(12, 24, 2), *block(24, 48, 3), ("flatten", nn.Flatten()), ("fc", nn.Linear(432, 10)))
    if arch == "best":
        cbr = lambda k, i, o: [(f"conv{k}", nn.Conv2d(i, o, 3, padding=1, bias=False)), (f"bn{k}", nn.BatchNorm2d(o)), (f"relu{k}", nn.ReLU())]
        return S(*cbr(1, 1, 32), ("pool1", nn.MaxPool2d(2)), *cbr(2, 32, 64), *cbr(3, 64, 64), ("pool2", nn.MaxPool2d(2)),
                 *cbr(4, 64, 128), ("pool3", nn.MaxPool2d(2)), ("flatten", nn.Flatten()),
                 ("dropout", nn.Dropout(0.3 if dropout else 0)), ("fc", nn.Linear(1152, 10)))
    if arch in ("resnet18", "resnet18-small"):
        import torchvision
        m = torchvision.models.resnet18(num_classes=10)
        if arch == "resnet18":
            m.conv1 = nn.Conv2d(1, 64, 7, stride=2, padding=3, bias=False)
        else:
            m.conv1 = nn.Conv2d(1, 64, 3, stride=1, padding=1, bias=False)
            m.maxpool = nn.Identity()
        return m
    sys.exit(f"unknown architecture {arch}")


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
