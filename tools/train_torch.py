#!/usr/bin/python3
"""train_torch: the zoo's standard recipe in PyTorch, the yardstick for `digitlab train` accuracy.

Adam 1e-3, batch 64, no augmentation, no schedule, MNIST normalised 0.1307/0.3081, reshuffled every epoch;
trains on all 60,000 training images (the equivalent of `digitlab train --validation 0`) and prints the
test accuracy after every epoch. The architectures come from tools/torch_models.py, shared with bench_torch_train.py.

Usage: /usr/bin/python3 tools/train_torch.py --model lenet5-relu [--epochs 10] [--seed 1] [--threads 2]
       [--data-dir ~/.digitlab/data] [--json]
"""
import argparse
import json
import os
import sys
import time

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("--model", default="lenet5-relu")
p.add_argument("--epochs", type=int, default=10)
p.add_argument("--batch-size", type=int, default=64)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--seed", type=int, default=1)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--data-dir", default=os.environ.get("DIGITLAB_DATA", os.path.expanduser("~/.digitlab/data")))
p.add_argument("--json", action="store_true")
ARGS = p.parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import torch  # noqa: E402  (after the thread variables)
import torch.nn as nn  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import build  # noqa: E402  (the zoo's architectures, shared with bench_torch_train.py)


def load(kind):
    d = os.path.join(ARGS.data_dir, "mnist")
    prefix = "train" if kind == "train" else "t10k"
    images_path, labels_path = os.path.join(d, f"{prefix}-images-idx3-ubyte"), os.path.join(d, f"{prefix}-labels-idx1-ubyte")
    if not (os.path.exists(images_path) and os.path.exists(labels_path)):
        raise SystemExit(f"MNIST not found in {d}: run `./digitlab data` first")
    with open(images_path, "rb") as f:
        x = torch.frombuffer(bytearray(f.read()[16:]), dtype=torch.uint8).view(-1, 1, 28, 28)
    with open(labels_path, "rb") as f:
        y = torch.frombuffer(bytearray(f.read()[8:]), dtype=torch.uint8).long()
    return ((x.float() / 255.0 - 0.1307) / 0.3081), y


def main():
    torch.set_num_threads(ARGS.threads)
    torch.manual_seed(ARGS.seed)
    x_train, y_train = load("train")
    x_test, y_test = load("test")
    model = build(ARGS.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=ARGS.lr)
    loss_fn = nn.CrossEntropyLoss()
    history, start = [], time.perf_counter()
    for epoch in range(1, ARGS.epochs + 1):
        model.train()
        order = torch.randperm(len(y_train))
        total, count = 0.0, 0
        for i in range(0, len(order), ARGS.batch_size):
            idx = order[i:i + ARGS.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            count += len(idx)
        model.eval()
        with torch.no_grad():
            correct = sum(int((model(x_test[i:i + 1000]).argmax(1) == y_test[i:i + 1000]).sum()) for i in range(0, len(y_test), 1000))
        history.append({"epoch": epoch, "train_loss": total / count, "test_accuracy": correct / len(y_test)})
        if not ARGS.json:
            print(f"epoch {epoch:2d}  train loss {total / count:.4f}  test accuracy {100 * correct / len(y_test):.2f}%"
                  f"  ({time.perf_counter() - start:.0f} s)", flush=True)
    result = {"model": ARGS.model, "seed": ARGS.seed, "epochs": ARGS.epochs, "test_accuracy": history[-1]["test_accuracy"],
              "history": history, "torch": torch.__version__}
    print(json.dumps(result) if ARGS.json else f"{ARGS.model} seed {ARGS.seed}: test accuracy {100 * result['test_accuracy']:.2f}%")


if __name__ == "__main__":
    main()
