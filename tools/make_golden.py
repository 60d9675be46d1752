#!/usr/bin/python3
"""make_golden.py: writes the PyTorch golden files that DigitLab's parity tests compare against.

Run with Debian's python3-torch (PyTorch 1.13), from the repository root:

    /usr/bin/python3 tools/make_golden.py            # writes tests/DigitLab.Engine.Tests/golden/*.safetensors

Every case uses a fixed seed and small shapes, so the files are small and the script is deterministic
on one machine (different CPUs may differ in the last bits of float sums; re-running is harmless).
Each file is safetensors, written by hand (no extra packages): an 8-byte little-endian header length,
a JSON header {name: {"dtype", "shape", "data_offsets"}, "__metadata__": {str: str}}, then the raw
little-endian data. Tensor names inside a file:

    input, output, grad_output, grad_input     the layer's input/output and the gradients around it
    param.<state_dict name>                    weights and buffers before the forward pass
    grad.<state_dict name>                     parameter gradients after one backward pass
    after.<state_dict name>                    buffers after the forward pass (batch-norm running stats)
    <optimizer>.<state_dict name>              parameters after one optimizer step (model file)
    step<k>.<name>, grad<k>.<name>, state.<n>  optimizer files: parameters after step k, the gradient
                                               used by step k, the optimizer state after the last step
    <run>_losses, <run>.<name>                 model_small_cnn_train: losses of five training steps and the
                                               parameters after them

The metadata holds each case's configuration (kernel size, stride, lr...), which the tests read.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "DigitLab.Engine.Tests", "golden")


def write_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> numpy array (float32 or float64) or torch tensor."""
    header = {}
    blobs = []
    offset = 0
    for name, value in tensors.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        value = np.ascontiguousarray(value)
        if value.dtype == np.float32:
            dtype = "F32"
        elif value.dtype == np.float64:
            dtype = "F64"
        else:
            raise TypeError(f"{name}: unsupported dtype {value.dtype}")
        data = value.astype(value.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": list(value.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)  # pad so the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def save(name, tensors, metadata=None):
    path = os.path.join(OUT, name + ".safetensors")
    write_safetensors(path, tensors, metadata)
    print(f"{name:32s} {os.path.getsize(path):7d} bytes")


def float_state(module):
    """state_dict entries as float32 (batch norm's int64 num_batches_tracked too: ours is a float buffer)."""
    return {k: v.detach().clone().to(torch.float32) for k, v in module.state_dict().items()}


def layer_case(name, module, x, metadata=None, train=True):
    """Forward, backward with a fixed random upstream gradient, and every tensor around it."""
    module.train(train)
    before = float_state(module)
    x = x.clone().requires_grad_(True)
    y = module(x)
    grad_output = torch.randn_like(y)
    y.backward(grad_output)
    tensors = {"input": x.detach(), "output": y.detach(), "grad_output": grad_output, "grad_input": x.grad}
    for k, v in before.items():
        tensors["param." + k] = v
    for k, p in module.named_parameters():
        tensors["grad." + k] = p.grad
    for k, v in module.named_buffers():
        tensors["after." + k] = v.to(torch.float32)
    meta = {"module": type(module).__name__, "train": train}
    meta.update(metadata or {})
    save(name, tensors, meta)


def layers():
    torch.manual_seed(1)
    layer_case("linear", nn.Linear(5, 4), torch.randn(3, 5), {"in": 5, "out": 4, "bias": True})
    torch.manual_seed(2)
    layer_case("linear_nobias", nn.Linear(7, 3, bias=False), torch.randn(2, 7), {"in": 7, "out": 3, "bias": False})

    conv_cases = [
        # name, in, out, kernel, stride, padding, bias, input shape
        ("conv2d_1in_k5_p2", 1, 3, 5, 1, 2, True, (2, 1, 9, 9)),
        ("conv2d_k3_s2_p1", 2, 4, 3, 2, 1, True, (2, 2, 7, 7)),
        ("conv2d_k3_p0_nobias", 3, 2, 3, 1, 0, False, (2, 3, 6, 5)),
        ("conv2d_k1_s2", 4, 6, 1, 2, 0, True, (2, 4, 6, 6)),
        ("conv2d_k5_s1_p0", 2, 3, 5, 1, 0, True, (1, 2, 8, 8)),
        # DigitLab's direct routes: wide planes (stride 1, planes of 64+ outputs, channels in eights) ...
        ("conv2d_wide_k3_p1", 8, 16, 3, 1, 1, True, (2, 8, 12, 12)),
        ("conv2d_wide_k5", 8, 8, 5, 1, 0, True, (2, 8, 14, 14)),
        # ... and output channels in vector lanes (small planes, channels in 32s; seven images = tiles of six and one)
        ("conv2d_lanes_k3_p1", 32, 32, 3, 1, 1, True, (7, 32, 3, 3)),
        ("conv2d_lanes_k1_s2", 32, 64, 1, 2, 0, False, (7, 32, 3, 3)),
    ]
    for i, (name, cin, cout, k, s, p, bias, shape) in enumerate(conv_cases):
        torch.manual_seed(10 + i)
        layer_case(name, nn.Conv2d(cin, cout, k, stride=s, padding=p, bias=bias), torch.randn(*shape),
                   {"in": cin, "out": cout, "kernel": k, "stride": s, "padding": p, "bias": bias})

    torch.manual_seed(20)
    layer_case("maxpool2d_k2", nn.MaxPool2d(2), torch.randn(2, 3, 6, 6), {"kernel": 2, "stride": 2, "padding": 0})
    torch.manual_seed(21)
    layer_case("maxpool2d_k3_s2_p1", nn.MaxPool2d(3, stride=2, padding=1), torch.randn(2, 2, 7, 7),
               {"kernel": 3, "stride": 2, "padding": 1})
    torch.manual_seed(22)
    layer_case("maxpool2d_k2_odd", nn.MaxPool2d(2), torch.randn(1, 2, 7, 5), {"kernel": 2, "stride": 2, "padding": 0})
    torch.manual_seed(23)
    layer_case("avgpool2d_k2", nn.AvgPool2d(2), torch.randn(2, 3, 6, 6), {"kernel": 2, "stride": 2})
    torch.manual_seed(24)
    layer_case("avgpool2d_k3_s2", nn.AvgPool2d(3, stride=2), torch.randn(2, 2, 7, 7), {"kernel": 3, "stride": 2})
    torch.manual_seed(25)
    layer_case("adaptiveavgpool2d", nn.AdaptiveAvgPool2d(1), torch.randn(2, 3, 5, 5), {})

    for train in (True, False):
        mode = "train" if train else "eval"
        torch.manual_seed(30)
        bn = nn.BatchNorm1d(5)
        with torch.no_grad():
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
        layer_case("batchnorm1d_" + mode, bn, torch.randn(6, 5) * 2 + 0.5,
                   {"features": 5, "eps": bn.eps, "momentum": bn.momentum}, train=train)
        torch.manual_seed(31)
        bn = nn.BatchNorm2d(4)
        with torch.no_grad():
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
        layer_case("batchnorm2d_" + mode, bn, torch.randn(3, 4, 5, 5) * 1.5 - 0.3,
                   {"features": 4, "eps": bn.eps, "momentum": bn.momentum}, train=train)

    torch.manual_seed(40)
    layer_case("relu", nn.ReLU(), torch.randn(3, 7), {})
    torch.manual_seed(41)
    layer_case("sigmoid", nn.Sigmoid(), torch.randn(3, 7) * 3, {})
    torch.manual_seed(42)
    layer_case("tanh", nn.Tanh(), torch.randn(3, 7) * 2, {})
    torch.manual_seed(43)
    layer_case("flatten", nn.Flatten(), torch.randn(2, 3, 4, 4), {})


def cross_entropy():
    for ls in (0.0, 0.1):
        torch.manual_seed(50)
        logits = (torch.randn(5, 10) * 2).requires_grad_(True)
        target = torch.tensor([3, 0, 9, 3, 7])
        loss = F.cross_entropy(logits, target, label_smoothing=ls)
        loss.backward()
        save("cross_entropy" + ("_smoothing" if ls else ""), {
            "input": logits.detach(), "target": target.to(torch.float32),
            "loss": loss.detach().reshape(1), "grad_input": logits.grad,
            "probabilities": torch.softmax(logits.detach(), dim=1)},
            {"label_smoothing": ls})


def basic_blocks():
    from torchvision.models.resnet import BasicBlock

    def randomise_bn(block):
        with torch.no_grad():
            for m in block.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.5, 0.5)

    torch.manual_seed(60)
    block = BasicBlock(4, 4)
    randomise_bn(block)
    layer_case("basicblock_identity", block, torch.randn(2, 4, 6, 6), {"in": 4, "out": 4, "stride": 1})
    torch.manual_seed(61)
    down = nn.Sequential(nn.Conv2d(4, 8, 1, stride=2, bias=False), nn.BatchNorm2d(8))
    block = BasicBlock(4, 8, stride=2, downsample=down)
    randomise_bn(block)
    layer_case("basicblock_downsample", block, torch.randn(2, 4, 6, 6), {"in": 4, "out": 8, "stride": 2})


MODEL_SGD = dict(lr=0.05, momentum=0.9, weight_decay=5e-4)
MODEL_ADAM = dict(lr=1e-3, weight_decay=1e-4)
MODEL_ADAMW = dict(lr=1e-3, weight_decay=1e-2)


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4 * 7 * 7, 12), nn.ReLU(), nn.Linear(12, 10))


def small_model():
    """conv-relu-maxpool-conv-relu-maxpool-flatten-linear-relu-linear on 4 images, cross-entropy loss."""
    torch.manual_seed(70)
    model = small_cnn()
    x = torch.randn(4, 1, 28, 28).requires_grad_(True)
    target = torch.tensor([7, 2, 1, 0])
    before = float_state(model)
    logits = model(x)
    loss = F.cross_entropy(logits, target)
    loss.backward()
    tensors = {"input": x.detach(), "target": target.to(torch.float32), "output": logits.detach(),
               "loss": loss.detach().reshape(1), "grad_input": x.grad}
    for k, v in before.items():
        tensors["param." + k] = v
    grads = {k: p.grad.clone() for k, p in model.named_parameters()}
    for k, g in grads.items():
        tensors["grad." + k] = g

    def one_step(prefix, make):
        params = {k: v.clone().requires_grad_(True) for k, v in before.items()}
        for k, p in params.items():
            p.grad = grads[k].clone()
        opt = make(list(params.values()))
        opt.step()
        for k, p in params.items():
            tensors[prefix + "." + k] = p.detach()

    one_step("sgd", lambda ps: torch.optim.SGD(ps, **MODEL_SGD))
    one_step("sgd_nesterov", lambda ps: torch.optim.SGD(ps, nesterov=True, **MODEL_SGD))
    one_step("adam", lambda ps: torch.optim.Adam(ps, **MODEL_ADAM))
    one_step("adamw", lambda ps: torch.optim.AdamW(ps, **MODEL_ADAMW))
    meta = {"sgd_" + k: v for k, v in MODEL_SGD.items()}
    meta.update({"adam_" + k: v for k, v in MODEL_ADAM.items()})
    meta.update({"adamw_" + k: v for k, v in MODEL_ADAMW.items()})
    save("model_small_cnn", tensors, meta)


TRAIN_STEPS = 5


def small_model_training():
    """Five training steps on one batch: SGD with cosine annealing, Adam with one-cycle (beta1 cycled too)."""
    torch.manual_seed(71)
    model = small_cnn()
    x = torch.randn(4, 1, 28, 28)
    target = torch.tensor([3, 8, 5, 6])
    start = float_state(model)
    tensors = {"input": x, "target": target.to(torch.float32)}
    for k, v in start.items():
        tensors["param." + k] = v
    S = torch.optim.lr_scheduler
    runs = [
        ("sgd_cosine", lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=5e-4),
         lambda o: S.CosineAnnealingLR(o, T_max=TRAIN_STEPS, eta_min=1e-3)),
        ("adam_onecycle", lambda ps: torch.optim.Adam(ps, lr=1e-2),
         lambda o: S.OneCycleLR(o, max_lr=1e-2, total_steps=TRAIN_STEPS)),
    ]
    for prefix, make_opt, make_sched in runs:
        model.load_state_dict(start)
        opt = make_opt(model.parameters())
        sched = make_sched(opt)
        losses = []
        for _ in range(TRAIN_STEPS):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), target)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        tensors[prefix + "_losses"] = np.array(losses, dtype=np.float32)
        for k, v in float_state(model).items():
            tensors[prefix + "." + k] = v
    save("model_small_cnn_train", tensors, {"steps": TRAIN_STEPS, "sgd_lr": 0.05, "sgd_momentum": 0.9,
        "sgd_weight_decay": 5e-4, "cosine_min": 1e-3, "adam_max_lr": 1e-2})


OPTIMIZER_CASES = [
    ("sgd_plain", "SGD", dict(lr=0.1)),
    ("sgd_momentum_wd", "SGD", dict(lr=0.1, momentum=0.9, weight_decay=1e-2)),
    ("sgd_nesterov_wd", "SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    ("adam", "Adam", dict(lr=1e-2)),
    ("adam_wd", "Adam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-2)),
    ("adamw", "AdamW", dict(lr=1e-2, weight_decay=1e-1)),
]
OPTIMIZER_STEPS = 3


def optimizers():
    """Three steps on three parameters (one of 67 values, past a 64-lane boundary) with fresh gradients each step."""
    for i, (name, kind, config) in enumerate(OPTIMIZER_CASES):
        torch.manual_seed(80)  # the same parameters and gradients for every optimizer
        shapes = {"a.weight": (5, 7), "a.bias": (5,), "b.weight": (67,)}
        params = {k: torch.randn(*s).requires_grad_(True) for k, s in shapes.items()}
        grads = [{k: torch.randn(*s) for k, s in shapes.items()} for _ in range(OPTIMIZER_STEPS)]
        opt = getattr(torch.optim, kind)(list(params.values()), **config)
        tensors = {"param." + k: p.detach().clone() for k, p in params.items()}
        for step in range(1, OPTIMIZER_STEPS + 1):
            for k, p in params.items():
                p.grad = grads[step - 1][k].clone()
                tensors[f"grad{step}.{k}"] = grads[step - 1][k]
            opt.step()
            for k, p in params.items():
                tensors[f"step{step}.{k}"] = p.detach().clone()
        for k, p in params.items():
            st = opt.state[p]
            for sname in ("momentum_buffer", "exp_avg", "exp_avg_sq"):
                if sname in st and st[sname] is not None:
                    tensors[f"state.{sname}.{k}"] = st[sname]
        meta = {"optimizer": kind, "steps": OPTIMIZER_STEPS}
        for k, v in config.items():
            if k == "betas":
                meta["beta1"], meta["beta2"] = v
            else:
                meta[k] = v
        save("optim_" + name, tensors, meta)


def schedules():
    """Learning rates (float64) after k scheduler steps, k = 0..N-1, as a loop over batches records them."""
    def record(make, n, momentum=False):
        p = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
        sched = make(opt)
        lrs, moms = [], []
        for _ in range(n):
            lrs.append(opt.param_groups[0]["lr"])
            moms.append(opt.param_groups[0]["momentum"])
            opt.step()
            sched.step()
        return np.array(lrs, dtype=np.float64), np.array(moms, dtype=np.float64)

    S = torch.optim.lr_scheduler
    tensors = {}
    tensors["step"], _ = record(lambda o: S.StepLR(o, step_size=3, gamma=0.5), 20)
    tensors["cosine"], _ = record(lambda o: S.CosineAnnealingLR(o, T_max=20, eta_min=1e-3), 21)
    tensors["onecycle_lr"], tensors["onecycle_momentum"] = record(lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=20), 20)
    tensors["onecycle_odd_lr"], tensors["onecycle_odd_momentum"] = record(
        lambda o: S.OneCycleLR(o, max_lr=0.05, total_steps=7, pct_start=0.25), 7)
    save("schedules", tensors, {
        "base_lr": 0.1, "step_size": 3, "step_gamma": 0.5, "cosine_total": 20, "cosine_min": 1e-3,
        "onecycle_max": 0.1, "onecycle_total": 20, "onecycle_odd_max": 0.05, "onecycle_odd_total": 7,
        "onecycle_odd_pct": 0.25})


def clipping():
    for name, max_norm in (("clip_grad_norm_clipped", 1.0), ("clip_grad_norm_unclipped", 100.0)):
        torch.manual_seed(90)
        ps = [torch.zeros(4, 3, requires_grad=True), torch.zeros(3, requires_grad=True), torch.zeros(70, requires_grad=True)]
        tensors = {}
        for i, p in enumerate(ps):
            p.grad = torch.randn_like(p)
            tensors[f"grad.{i}"] = p.grad.clone()
        total = torch.nn.utils.clip_grad_norm_(ps, max_norm)
        for i, p in enumerate(ps):
            tensors[f"clipped.{i}"] = p.grad
        tensors["total_norm"] = total.reshape(1)
        save(name, tensors, {"max_norm": max_norm})


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)  # one summation order for the whole file set
    print(f"torch {torch.__version__}, writing to {os.path.normpath(OUT)}")
    optimizers()
    schedules()
    clipping()
    layers()
    cross_entropy()
    basic_blocks()
    small_model()
    small_model_training()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"total {total} bytes")


if __name__ == "__main__":
    sys.exit(main())
