"""Golden key_averages() tables for tests/core/profiler_test.cpp, printed by PyTorch 1.13's own table code.

Fixed synthetic events (times in ns, self memory in bytes, parents by id) go through torch.autograd's
FunctionEvent / EventList.key_averages / table, so the expected text is PyTorch's, not a copy of ours. The
CUDA cases are the legacy (use_cuda=True, CUDA-event) profiler's events: each carries its CUDA span as one
kernel, and self CUDA time is that minus the children's, as tensord times CUDA ops.
Run: /usr/bin/python3 tests/golden/profiler/generate_tables.py > tests/golden/profiler/tables.json
(a folder of its own: every top-level tests/golden/*.json is an op fixture).
"""
import json

from torch.autograd.profiler_util import EventList, FunctionEvent

# id, name, parent, start_ns, end_ns, input shapes, flops, self CPU memory (bytes), CUDA span (ns)
EVENTS = [
    (1, "my_range", -1, 0, 10000, [], 0, -4096, 7000),
    (2, "aten::mm", 1, 1000, 4000, [[64, 32], [32, 16]], 65536, 4096, 2500),
    (3, "aten::mul", 1, 4500, 6000, [[64, 16], []], 1024, 4096, 1200),
    (4, "aten::mul", 1, 6500, 7250, [[64, 16], [64, 16]], 1024, 4096, 600),
    (5, "aten::sum", 1, 7500, 9800, [[64, 16], []], 0, 4, 1900),
    (6, "aten::fill_", 5, 7700, 7850, [[], []], 0, 0, 100),
    (7, "autograd::engine::evaluate_function: MulBackward0", -1, 12000, 15000, [], 0, 0, 1400),
    (8, "aten::mul", 7, 12500, 14000, [[64, 16], []], 1024, 4096, 1300),
    (9, "a_really_long_record_function_name_that_the_table_truncates", -1, 16000, 16500, [], 0, 0, 0),
    (10, "aten::conv2d", -1, 20000, 2520000, [[1, 3, 8, 8], [6, 3, 3, 3], [], [], [], [], []], 20736,
     1536, 2400000),
]

CASES = [
    # name, profile_memory, with_flops, group_by_input_shape, sort_by, row_limit, CUDA times
    ("plain", False, False, False, None, 100, False),
    ("sorted_limited", False, False, False, "self_cpu_time_total", 4, False),
    ("memory_flops", True, True, False, "cpu_time_total", 100, False),
    ("by_shape", True, True, True, "count", 100, False),
    ("cuda", False, False, False, None, 100, True),
    ("cuda_by_self_time", True, True, False, "self_cuda_time_total", 5, True),
    ("cuda_by_shape", False, False, True, "cuda_time_total", 100, True),
]


def build(profile_memory, with_flops, cuda):
    by_id = {}
    for id_, name, parent, start, end, shapes, flops, mem, cuda_ns in EVENTS:
        by_id[id_] = FunctionEvent(id_, name, 1, start / 1000.0, end / 1000.0, input_shapes=shapes, stack=[],
                                   cpu_memory_usage=mem, flops=flops, is_legacy=cuda)
        if cuda and cuda_ns > 0:
            by_id[id_].append_kernel(name, 0, cuda_ns / 1000.0)
    for id_, _, parent, *_ in EVENTS:
        if parent >= 0:
            by_id[parent].append_cpu_child(by_id[id_])
            by_id[id_].set_cpu_parent(by_id[parent])
    # PyTorch's cpu_memory_usage includes the children's: add them up, innermost first.
    for id_, _, parent, *_ in reversed(EVENTS):
        if parent >= 0:
            by_id[parent].cpu_memory_usage += by_id[id_].cpu_memory_usage
    events = EventList([by_id[e[0]] for e in EVENTS], profile_memory=profile_memory, with_flops=with_flops)
    events._tree_built = True
    return events


out = {"events": [dict(zip(["id", "name", "parent", "start_ns", "end_ns", "input_shapes", "flops",
                            "self_cpu_memory_usage", "cuda_time_ns"], e)) for e in EVENTS], "tables": []}
for name, memory, flops, by_shape, sort_by, limit, cuda in CASES:
    table = build(memory, flops, cuda).key_averages(group_by_input_shapes=by_shape).table(sort_by=sort_by,
                                                                                         row_limit=limit)
    out["tables"].append({"name": name, "profile_memory": memory, "with_flops": flops,
                          "group_by_input_shape": by_shape, "sort_by": sort_by or "", "row_limit": limit,
                          "cuda": cuda, "table": table})
print(json.dumps(out, indent=1))
