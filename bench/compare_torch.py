#!/usr/bin/python3
"""Runs bench_ops and the same work in PyTorch back to back on this machine and prints time ratios.

usage: bench/compare_torch.py BUILD_DIR/bench/bench_ops [--device cpu|cuda]
Ratios > 1 mean tensord is slower. Both sides use the same thread count (torch.get_num_threads()).
"""
import json
import os
import subprocess
import sys
import time

import torch


def torch_time(fn, sync, min_time=0.5):
    fn()
    sync()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_time:
        fn()
        sync()
        n += 1
    return (time.perf_counter() - start) / n


def scrambled(rows, n, device):
    """bench_ops.cpp's pseudo-random values: (i * 2654435761) mod 1000003, as float32."""
    return torch.arange(rows * n, dtype=torch.int64).mul(2654435761).remainder(1000003).float().reshape(rows, n).to(device)


def main():
    binary = sys.argv[1]
    device = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--device" else "cpu"
    flag = 1 if device == "cuda" else 0
    # Same thread count on both sides: PyTorch defaults to one thread per physical core.
    threads = str(torch.get_num_threads())
    env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
    out = subprocess.run([binary, f"--benchmark_filter=/{flag}/real_time", "--benchmark_format=json",
                          "--benchmark_min_time=0.5"], capture_output=True, text=True, check=True, env=env)
    ours = {b["name"]: b["real_time"] * {"ns": 1e-9, "us": 1e-6, "ms": 1e-3}[b["time_unit"]]
            for b in json.loads(out.stdout)["benchmarks"] if "error_occurred" not in b}
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    rows = []
    for name, t in ours.items():
        kind, size = name.split("/")[0], int(name.split("/")[1])
        if kind == "BM_Matmul":
            a = torch.ones(size, size, device=device)
            ref = torch_time(lambda: a @ a, sync)
        elif kind == "BM_Add":
            a = torch.ones(size, device=device)
            ref = torch_time(lambda: a + a, sync)
        elif kind == "BM_Sum":
            a = torch.ones(size, device=device)
            ref = torch_time(lambda: a.sum(), sync)
        elif kind == "BM_Exp":
            a = torch.ones(size, device=device)
            ref = torch_time(lambda: a.exp(), sync)
        elif kind == "BM_Softmax":
            a = torch.ones(size, 1024, device=device)
            ref = torch_time(lambda: a.softmax(1), sync)
        elif kind == "BM_TransposeCopy":
            a = torch.ones(size, size, device=device)
            ref = torch_time(lambda: a.t().contiguous(), sync)
        elif kind == "BM_SmallBackward":
            a = torch.ones(16, 16, device=device, requires_grad=True)
            ref = torch_time(lambda: ((a @ a) * a).sum().backward(), sync)
        elif kind == "BM_Sort":
            a = scrambled((1 << 22) // size, size, device)
            ref = torch_time(lambda: a.sort(), sync)
        elif kind == "BM_Topk":
            a = scrambled(1024, 4096, device)
            ref = torch_time(lambda: a.topk(size), sync)
        else:
            continue
        rows.append((name, t, ref))
    print(f"device={device} torch={torch.__version__} threads={torch.get_num_threads()}")
    print(f"{'benchmark':32} {'tensord':>12} {'pytorch':>12} {'ratio':>7}")
    for name, t, ref in rows:
        print(f"{name:32} {t * 1e6:10.1f}us {ref * 1e6:10.1f}us {t / ref:7.2f}")


if __name__ == "__main__":
    main()
