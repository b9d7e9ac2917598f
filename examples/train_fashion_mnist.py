#!/usr/bin/python3
"""PyTorch's side of examples/train_fashion_mnist.cpp: the same CNN, data, transform and recipe (batch 64,
SGD lr 0.05 momentum 0.9, cross-entropy, ToTensor + Normalize(0.2860, 0.3530)), reading the same IDX files,
printing the same per-epoch summary. Uses only torch (Debian's python3-torch; torchvision is not needed).

usage: /usr/bin/python3 examples/train_fashion_mnist.py [--epochs 2] [--threads 2] [--seed 0] [--limit N]
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = "/usr/share/datasets/fashion-mnist"


def idx(name):
    path = os.path.join(ROOT, name)
    with (gzip.open(path) if path.endswith(".gz") else open(path, "rb")) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return torch.from_numpy(np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape).copy())


def load(train):
    prefix = "train" if train else "t10k"
    images = idx(f"{prefix}-images-idx3-ubyte.gz").float().div(255).unsqueeze(1).sub(0.2860).div(0.3530)
    return images, idx(f"{prefix}-labels-idx1-ubyte.gz").long()


class CNN(nn.Module):
    def __init__(self, num_class=10, channels=1, high=28, weight=28):
        super().__init__()
        linear_1 = 128 * (high // 4) * (weight // 4)
        self.features = nn.Sequential(nn.Conv2d(channels, 32, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2),
                                      nn.Conv2d(32, 128, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.classifier = nn.Sequential(nn.Linear(linear_1, 64), nn.ReLU(), nn.Linear(64, num_class))

    def forward(self, x):
        x = self.features(x)
        return self.classifier(x.view(x.size(0), -1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=-1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    train_x, train_y = load(True)
    test_x, test_y = load(False)
    model = CNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(a.seed)
    for epoch in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        order = torch.randperm(len(train_y), generator=g)
        steps = (len(order) + 63) // 64 if a.limit < 0 else a.limit
        loss_sum, correct, seen = 0.0, 0, 0
        for step in range(steps):
            idx_ = order[step * 64:(step + 1) * 64]
            x, y = train_x[idx_], train_y[idx_]
            opt.zero_grad()
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        train_time = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            logits = torch.cat([model(test_x[i:i + 1000]) for i in range(0, len(test_y), 1000)])
            test_loss = F.cross_entropy(logits, test_y).item()
            test_acc = 100.0 * (logits.argmax(1) == test_y).float().mean().item()
        model.train()
        print(f"epoch {epoch}: train loss {loss_sum / seen:.4f}, train accuracy {100.0 * correct / seen:.2f}%, "
              f"test loss {test_loss:.4f}, test accuracy {test_acc:.2f}%, {train_time:.1f} s "
              f"({1000 * train_time / steps:.1f} ms/step)", flush=True)


if __name__ == "__main__":
    main()
