"""torch_models: the DigitLab zoo's architectures in PyTorch, as src/DigitLab/Models builds them, with the same
state_dict names (a DigitLab checkpoint's tensors load into them by name).

Shared by bench_torch_train.py (speed), train_torch.py (accuracy) and load_checkpoint.py (parity). Import it after
setting the thread environment variables: it imports torch.
"""
from collections import OrderedDict

import torch.nn as nn


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
    raise SystemExit(f"unknown architecture {arch!r}: use mlp, cnn, cnn-dropout, lenet5, lenet5-relu, net3, fast, best, resnet18 or resnet18-small")
