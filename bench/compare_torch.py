#!/usr/bin/python3
"""Runs bench_ops and the same work in PyTorch back to back on this machine and prints time ratios.

usage: bench/compare_torch.py BUILD_DIR/bench/bench_ops [--device cpu|cuda] [--threads N] [--filter REGEX]
                              [--cudnn-benchmark]
Ratios > 1 mean tensord is slower. Both sides run on the same number of threads, N (default 1): OpenMP's and
OpenBLAS's. --filter keeps the benchmarks whose name matches REGEX (Google Benchmark's syntax). The thread counts go into the environment before torch is imported, because Debian's PyTorch does its
GEMMs in OpenBLAS, whose thread pool is sized when it loads (torch.set_num_threads does not reach it).
--cudnn-benchmark times cuDNN's convolution algorithms on both sides (torch.backends.cudnn.benchmark = True,
TD_CUDNN_BENCHMARK=1 for bench_ops); by default both take cuDNN's heuristics.
"""
import json
import os
import subprocess
import sys
import time


def option(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv[2:] else default


THREADS = option("--threads", "1")
os.environ.update(OMP_NUM_THREADS=THREADS, OPENBLAS_NUM_THREADS=THREADS)
import torch  # noqa: E402  (after the thread counts are set)


def torch_time(fn, sync, min_time=0.5):
    fn()
    sync()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_time:
        fn()
        sync()
        n += 1
    return (time.perf_counter() - start) / n


def module_step_time(module, loss, sync):
    """The time of one forward and backward of a module (no optimizer step): zero_grad, then loss().backward()."""
    def step():
        module.zero_grad(set_to_none=True)
        loss().backward()
    return torch_time(step, sync, min_time=2.0)


def scrambled(rows, n, device):
    """bench_ops.cpp's pseudo-random values: (i * 2654435761) mod 1000003, as float32."""
    return torch.arange(rows * n, dtype=torch.int64).mul(2654435761).remainder(1000003).float().reshape(rows, n).to(device)


def mlp20(width, device):
    """bench_ops' mlp20: 20 x (Linear(width, width) + ReLU), seeded."""
    torch.manual_seed(0)
    layers = []
    for _ in range(20):
        layers += [torch.nn.Linear(width, width), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers).to(device)


# Bytes each memory-bound benchmark reads and writes, by kind, for its size argument (bench_ops.cpp's shapes).
MOVED_BYTES = {
    "BM_Add": lambda n: 12 * n,  # two float32 inputs, one output
    "BM_Sum": lambda n: 4 * n,
    "BM_Exp": lambda n: 8 * n,
    "BM_Rand": lambda n: 4 * n,
    "BM_Randn": lambda n: 4 * n,
    "BM_TransposeCopy": lambda n: 8 * n * n,
    "BM_Softmax": lambda n: 8 * n * 1024,
    "BM_LogSoftmax": lambda n: 8 * n * 1024,
    "BM_SoftmaxDim0": lambda n: 8 * n * 1024,
    "BM_Cumsum": lambda n: 8 * 64 * n,
    "BM_Argmax": lambda n: 4 * 64 * n,
}


def print_gpu_ceilings(rows, sync):
    """Issue 9's yardsticks, measured in this run: a device-to-device copy of 2^24 floats for bandwidth (bytes
    read plus written), and cuBLAS (PyTorch's matmul) for the matrix products."""
    n = 1 << 24
    a, b = torch.ones(n, device="cuda"), torch.empty(n, device="cuda")
    copy_rate = 8 * n / torch_time(lambda: b.copy_(a), sync)
    print(f"ceilings: device-to-device copy {copy_rate / 1e9:.0f} GB/s; matmul: cuBLAS through PyTorch")
    for name, t, ref in rows:
        kind, size = name.split("/")[0], int(name.split("/")[1])
        if kind in MOVED_BYTES:
            rate = MOVED_BYTES[kind](size) / t
            print(f"{name:32} {rate / 1e9:8.0f} GB/s {100 * rate / copy_rate:5.0f}% of copy bandwidth")
        elif kind == "BM_Matmul":
            print(f"{name:32} {100 * ref / t:5.0f}% of cuBLAS's speed")


def main():
    binary = sys.argv[1]
    device = option("--device", "cpu")
    flag = 1 if device == "cuda" else 0
    torch.set_num_threads(int(THREADS))
    env = dict(os.environ)
    if "--cudnn-benchmark" in sys.argv[2:]:
        torch.backends.cudnn.benchmark = True
        env["TD_CUDNN_BENCHMARK"] = "1"
    pattern = option("--filter", "")
    pattern = f"({pattern}).*/{flag}/real_time" if pattern else f"/{flag}/real_time"
    out = subprocess.run([binary, f"--benchmark_filter={pattern}", "--benchmark_format=json",
                          "--benchmark_min_time=0.5"], capture_output=True, text=True, check=True, env=env)
    report = json.loads(out.stdout)
    ours = {b["name"]: b["real_time"] * {"ns": 1e-9, "us": 1e-6, "ms": 1e-3}[b["time_unit"]]
            for b in report["benchmarks"] if "error_occurred" not in b}
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    rows = []
    for name, t in ours.items():
        kind, size = name.split("/")[0], int(name.split("/")[1])
        if kind == "BM_Matmul":
            a = torch.ones(size, size, device=device)
            ref = torch_time(lambda: a @ a, sync)
        elif kind == "BM_Add":
            # Two inputs, as bench_ops adds a and b: a + a would read half the memory.
            a, b = torch.ones(size, device=device), torch.ones(size, device=device)
            ref = torch_time(lambda: a + b, sync)
        elif kind == "BM_MulScalar":
            a = torch.ones(size, device=device)
            ref = torch_time(lambda: a * 0.5, sync)
        elif kind == "BM_Sum":
            a = torch.ones(size, device=device)
            ref = torch_time(lambda: a.sum(), sync)
        elif kind == "BM_Rand":
            ref = torch_time(lambda: torch.rand(size, device=device), sync)
        elif kind == "BM_Randn":
            ref = torch_time(lambda: torch.randn(size, device=device), sync)
        elif kind == "BM_Cumsum":
            a = torch.ones(64, size, device=device)
            ref = torch_time(lambda: a.cumsum(1), sync)
        elif kind == "BM_Argmax":
            a = torch.ones(64, size, device=device)
            ref = torch_time(lambda: a.argmax(1), sync)
        elif kind == "BM_Exp":
            a = torch.ones(size, device=device)
            ref = torch_time(lambda: a.exp(), sync)
        elif kind == "BM_Softmax":
            a = torch.ones(size, 1024, device=device)
            ref = torch_time(lambda: a.softmax(1), sync)
        elif kind == "BM_LogSoftmax":
            a = torch.ones(size, 1024, device=device)
            ref = torch_time(lambda: a.log_softmax(1), sync)
        elif kind == "BM_SoftmaxDim0":
            a = torch.ones(size, 1024, device=device)
            ref = torch_time(lambda: a.softmax(0), sync)
        elif kind == "BM_TransposeCopy":
            a = torch.ones(size, size, device=device)
            ref = torch_time(lambda: a.t().contiguous(), sync)
        elif kind == "BM_SmallBackward":
            a = torch.ones(16, 16, device=device, requires_grad=True)
            ref = torch_time(lambda: ((a @ a) * a).sum().backward(), sync)
        elif kind == "BM_MlpBackward":
            model = mlp20(size, device)
            x = torch.ones(64, size, device=device)

            def step():
                model.zero_grad(set_to_none=True)
                model(x).sum().backward()
            ref = torch_time(step, sync)
        elif kind == "BM_MlpJvp":
            import torch.autograd.forward_ad as fwAD
            model = mlp20(size, device)
            x, tangent = torch.ones(64, size, device=device), torch.full((64, size), 0.5, device=device)

            def step():
                with torch.no_grad(), fwAD.dual_level():
                    fwAD.unpack_dual(model(fwAD.make_dual(x, tangent))).tangent
            ref = torch_time(step, sync)
        elif kind == "BM_OptimizerStep":
            # bench_ops' CNN parameters with fixed gradients; size 0 is SGD with momentum, 1 is Adam. PyTorch's
            # default implementation: the single-tensor loop on the CPU, foreach on CUDA (as our steps).
            shapes = [(32, 1, 3, 3), (32,), (64, 32, 3, 3), (64,), (128, 9216), (128,), (10, 128), (10,)]
            params = [torch.ones(s, device=device, requires_grad=True) for s in shapes]
            for p in params:
                p.grad = torch.full_like(p, 0.01)
            opt = (torch.optim.SGD(params, lr=0.01, momentum=0.9) if size == 0 else torch.optim.Adam(params))
            ref = torch_time(opt.step, sync)
        elif kind == "BM_EngineChain":
            x = torch.ones(1, device=device, requires_grad=True)

            def chain():
                y = x
                for _ in range(size):
                    y = y * 1.0001
                y.sum().backward()
            ref = torch_time(chain, sync)
        elif kind == "BM_Sort":
            a = scrambled((1 << 22) // size, size, device)
            ref = torch_time(lambda: a.sort(), sync)
        elif kind == "BM_Topk":
            a = scrambled(1024, 4096, device)
            ref = torch_time(lambda: a.topk(size), sync)
        elif kind == "BM_Rfft":
            a = scrambled((1 << 20) // size, size, device)
            ref = torch_time(lambda: torch.fft.rfft(a), sync)
        elif kind == "BM_Fft2":
            a = scrambled(16 * size, size, device).reshape(16, size, size).to(torch.complex64)
            ref = torch_time(lambda: torch.fft.fft2(a), sync)
        elif kind == "BM_LinalgSolve":
            a = scrambled(64 * size, size, device).div(1000003.0).reshape(64, size, size)
            a = a + torch.eye(size, device=device) * size
            b = scrambled(64, size, device).div(1000003.0)
            ref = torch_time(lambda: torch.linalg.solve(a, b), sync)
        elif kind == "BM_Svd":
            a = scrambled(size, size, device).div(1000003.0)
            ref = torch_time(lambda: torch.linalg.svd(a, full_matrices=False), sync)
        elif kind == "BM_IndexSelect":
            a = torch.ones(size, 64, device=device)
            idx = scrambled(1, size, "cpu").long().remainder(size).reshape(size).to(device)
            ref = torch_time(lambda: a.index_select(0, idx), sync)
        elif kind == "BM_Gather":
            a = scrambled(size, size, device)
            idx = scrambled(size, size, "cpu").long().remainder(size).to(device)
            ref = torch_time(lambda: a.gather(1, idx), sync)
        elif kind in ("BM_Conv2d", "BM_Conv2dBackward"):
            # The reference CNN's layers at batch 64: 1 -> 32 on 28x28 or 32 -> 128 on 14x14, 3x3, padding 1.
            cout, hw = (32, 28) if size == 1 else (128, 14)
            grad = kind == "BM_Conv2dBackward"
            x = torch.rand(64, size, hw, hw, device=device, requires_grad=grad)
            w = torch.rand(cout, size, 3, 3, device=device).div(3).requires_grad_(grad)
            b = torch.rand(cout, device=device, requires_grad=grad)
            if grad:
                def step():
                    y = torch.nn.functional.conv2d(x, w, b, 1, 1)
                    y.backward(torch.ones_like(y))
                    x.grad = w.grad = b.grad = None
                ref = torch_time(step, sync)
            else:
                ref = torch_time(lambda: torch.nn.functional.conv2d(x, w, b, 1, 1), sync)
        elif kind == "BM_MaxPool2dStem":
            a = scrambled(64 * 64, 16 * 16, device).reshape(64, 64, 16, 16)
            ref = torch_time(lambda: torch.nn.functional.max_pool2d(a, 3, 2, 1, return_indices=True), sync)
        elif kind in ("BM_MaxPool2d", "BM_MaxPool2dBackward"):
            # The reference CNN's MaxPool2d(2): [64, 32, 28, 28] or [64, 128, 14, 14] (size is the channels).
            s = 28 if size == 32 else 14
            a = scrambled(64 * size, s * s, device).reshape(64, size, s, s)
            if kind == "BM_MaxPool2d":
                ref = torch_time(lambda: torch.nn.functional.max_pool2d(a, 2), sync)
            else:
                a.requires_grad_()
                g = torch.ones(64, size, s // 2, s // 2, device=device)

                def step():
                    torch.nn.functional.max_pool2d(a, 2).backward(g)
                    a.grad = None
                ref = torch_time(step, sync)
        elif kind == "BM_CrossEntropy":
            x = scrambled(size, 10, device).div(1000003.0).requires_grad_()
            target = scrambled(1, size, "cpu").long().remainder(10).reshape(size).to(device)

            def step():
                torch.nn.functional.cross_entropy(x, target).backward()
                x.grad = None
            ref = torch_time(step, sync)
        elif kind == "BM_BatchNorm2d":
            # BatchNorm2d(size) in training on [64, size, 32, 32], forward + backward.
            bn = torch.nn.BatchNorm2d(size).to(device)
            x = scrambled(64 * size, 32 * 32, device).div(1000003.0).reshape(64, size, 32, 32).requires_grad_()
            g = torch.ones_like(x)

            def step():
                bn(x).backward(g)
                x.grad = bn.weight.grad = bn.bias.grad = None
            ref = torch_time(step, sync)
        elif kind == "BM_CnnStep":
            # The users' reference CNN (examples/reference_cnn.h), one SGD step at batch 64.
            torch.manual_seed(0)
            nn = torch.nn
            model = nn.Sequential(nn.Conv2d(1, 32, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2),
                                  nn.Conv2d(32, 128, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(),
                                  nn.Linear(6272, 64), nn.ReLU(), nn.Linear(64, 10)).to(device)
            opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
            x = torch.randn(64, 1, 28, 28, device=device)
            y = torch.randint(0, 10, (64,), device=device)

            def step():
                opt.zero_grad(set_to_none=True)
                torch.nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
            ref = torch_time(step, sync, min_time=2.0)
        elif kind == "BM_Resnet18Step":
            # torchvision's resnet18 (10 classes) built as tests/golden/generate_models.py transcribes it
            # (torchvision is not installed), one SGD(lr 0.1, momentum 0.9) step at batch `size` on 32x32.
            sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden"))
            from generate_models import resnet18
            torch.manual_seed(0)
            model = resnet18(num_classes=10).to(device)
            opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
            x = torch.randn(size, 3, 32, 32, device=device)
            y = torch.randint(0, 10, (size,), device=device)

            def step():
                opt.zero_grad(set_to_none=True)
                torch.nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
            ref = torch_time(step, sync, min_time=2.0)
        elif kind in ("BM_LstmStep", "BM_GruStep"):
            # LSTM or GRU(128, 256, num_layers=2) over 50 steps at batch `size`, forward and backward.
            torch.manual_seed(0)
            rnn = (torch.nn.LSTM if kind == "BM_LstmStep" else torch.nn.GRU)(128, 256, num_layers=2).to(device)
            x = torch.randn(50, size, 128, device=device)
            ref = module_step_time(rnn, lambda: rnn(x)[0].sum(), sync)
        elif kind == "BM_LstmPacked":
            # Bidirectional LSTM(128, 256) over sequences of 50, 49, ... steps at batch `size`, packed.
            torch.manual_seed(0)
            lstm = torch.nn.LSTM(128, 256, bidirectional=True).to(device)
            x = torch.randn(50, size, 128, device=device)
            packed = torch.nn.utils.rnn.pack_padded_sequence(x, [50 - b for b in range(size)])
            ref = module_step_time(lstm, lambda: lstm(packed)[0].data.sum(), sync)
        elif kind == "BM_TransformerStep":
            # TransformerEncoderLayer(256, 8, 1024, dropout 0.1), training, on [64, size, 256].
            torch.manual_seed(0)
            layer = torch.nn.TransformerEncoderLayer(256, 8, dim_feedforward=1024).to(device)
            x = torch.randn(64, size, 256, device=device)
            ref = module_step_time(layer, lambda: layer(x).sum(), sync)
        else:
            continue
        rows.append((name, t, ref))
    print(f"device={device} torch={torch.__version__} threads={torch.get_num_threads()} "
          f"tensord cpu_gemm={report['context'].get('cpu_gemm', '?')} "
          f"cudnn_benchmark={report['context'].get('cudnn_benchmark', '?')} "
          f"cudnn_graph_api={report['context'].get('cudnn_graph_api', '?')}")
    print(f"{'benchmark':32} {'tensord':>12} {'pytorch':>12} {'ratio':>7}")
    for name, t, ref in rows:
        print(f"{name:32} {t * 1e6:10.1f}us {ref * 1e6:10.1f}us {t / ref:7.2f}")
    if device == "cuda":
        print_gpu_ceilings(rows, sync)
    # The ceiling for large elementwise ops: STREAM's triad over preallocated arrays, in the same run.
    rates = {b["name"]: b.get("bytes_per_second") for b in report["benchmarks"] if "error_occurred" not in b}
    triad = rates.get("BM_Triad/16777216/0/real_time")
    add = rates.get(f"BM_Add/16777216/{flag}/real_time")
    if triad and add and device == "cpu":
        print(f"memory bandwidth (triad): {triad / 1e9:.1f} GB/s; add of 16M floats reaches {add / 1e9:.1f} GB/s "
              f"({100 * add / triad:.0f}% of it)")


if __name__ == "__main__":
    main()
