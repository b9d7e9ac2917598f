"""Golden torch.cuda.memory_summary() tables for tests/core/cuda_api_test.cpp, printed by PyTorch 1.13's own
code (torch/cuda/memory.py) over fixed counters: memory_stats is replaced by a function returning them, so
no GPU is needed and the expected text is PyTorch's, not a copy of ours.
Run: /usr/bin/python3 tests/golden/memory/generate_summary.py > tests/golden/memory/summary.json
"""
import json

import torch.cuda.memory as memory

METRICS = ["allocated_bytes", "active_bytes", "reserved_bytes", "inactive_split_bytes", "allocation", "active",
           "segment", "inactive_split"]
POOLS = ["all", "large_pool", "small_pool"]
FIELDS = ["current", "peak", "allocated", "freed"]


def stats_for(seed, scale):
    """Counters of every size class: bytes from B to TB, counts from units to millions."""
    stats = {}
    x = seed
    for m in METRICS:
        for p in POOLS:
            for f in FIELDS:
                x = (x * 1103515245 + 12345) % (2 ** 31)
                v = x % (scale if m.endswith("bytes") else max(scale // 4096, 10))
                stats[f"{m}.{p}.{f}"] = v
    for k in ["oversize_allocations", "oversize_segments"]:
        for f in FIELDS:
            stats[f"{k}.{f}"] = 0
    stats["num_alloc_retries"] = seed % 7
    stats["num_ooms"] = seed % 3
    stats["max_split_size"] = -1
    return stats


CASES = [
    # name, device, abbreviated, stats
    ("empty", 0, False, stats_for(1, 1)),
    ("megabytes", 0, False, stats_for(7, 300 * 2 ** 20)),
    ("gigabytes_abbreviated", 1, True, stats_for(11, 40 * 2 ** 30)),
    ("terabytes", 3, False, stats_for(13, 5 * 2 ** 40)),
]

out = []
for name, device, abbreviated, stats in CASES:
    if name == "empty":
        stats = {k: 0 for k in stats}
        stats["max_split_size"] = -1
    memory.memory_stats = lambda device=None, s=stats: s
    out.append({"name": name, "device": device, "abbreviated": abbreviated, "stats": stats,
                "summary": memory.memory_summary(device, abbreviated)})
print(json.dumps(out, indent=1))
