"""Writes tests/golden/optim/optim.json: PyTorch 1.13's torch.optim, lr_scheduler and clip_grad results.

Run with /usr/bin/python3 (PyTorch 1.13) from the repository root. The fixture lives in a subdirectory so the op
golden loader (tests/core/golden_test.cpp reads tests/golden/*.json) does not take it for op cases.

Optimizers: three float64 parameters, a fixed loss (a quadratic, a sine and a coupling term, so the gradients
change from step to step), `steps` steps; the parameters after each step are recorded. Schedulers: the lr of each
parameter group right after construction and after each step (and the momentum or beta1 where OneCycleLR cycles
it). Clipping: the total norm and the clipped gradients.
"""
import json
import math
import os

import torch

# The default dtype stays float32, as in real use: PyTorch keeps some optimizer state (NAdam's mu_product, the
# step counts) in default-dtype tensors, and the C++ side reproduces that float32 rounding.
F64 = torch.float64


def initial_params():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(2, 3, generator=g, dtype=F64), torch.randn(3, generator=g, dtype=F64),
            torch.randn(2, 2, generator=g, dtype=F64)]


def loss_fn(params):
    # The C++ test computes the same loss with td ops; keep the two in step.
    loss = 0
    for i, p in enumerate(params):
        loss = loss + (0.5 * (i + 1)) * (p * p).sum() + torch.sin(3 * p).sum()
    return loss + 0.1 * params[0].sum() * params[1].sum()


def flat(t):
    return t.detach().reshape(-1).tolist()


def run_optimizer(name, kwargs, steps, groups=None):
    params = [p.clone().requires_grad_(True) for p in initial_params()]
    cls = getattr(torch.optim, name)
    if groups is None:
        opt = cls(params, **kwargs)
    else:
        opt = cls([dict(g["options"], params=[params[i] for i in g["params"]]) for g in groups], **kwargs)
    history = []
    losses = []

    def closure():
        opt.zero_grad()
        loss = loss_fn(params)
        loss.backward()
        return loss

    for _ in range(steps):
        loss = opt.step(closure)
        losses.append(float(loss))
        history.append([flat(p) for p in params])
    case = {"optimizer": name, "kwargs": kwargs, "steps": steps, "params": history, "losses": losses}
    if groups is not None:
        case["groups"] = groups
    return case


OPTIMIZER_CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.01, "momentum": 0.5, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "maximize": True}),
    ("Adam", {"lr": 0.05, "betas": [0.8, 0.9], "eps": 1e-6, "amsgrad": True, "weight_decay": 0.05}),
    ("AdamW", {"lr": 0.05}),
    ("AdamW", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "maximize": True, "betas": [0.5, 0.7]}),
    ("RMSprop", {}),
    ("RMSprop", {"centered": True}),
    ("RMSprop", {"momentum": 0.9, "lr": 0.005}),
    ("RMSprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.1, "alpha": 0.9, "eps": 1e-4}),
    ("RMSprop", {"maximize": True}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.1, "initial_accumulator_value": 0.5}),
    ("Adagrad", {"weight_decay": 0.1, "maximize": True, "eps": 1e-3}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "weight_decay": 0.1, "eps": 1e-4}),
    ("Adadelta", {"maximize": True}),
    ("Adamax", {}),
    ("Adamax", {"lr": 0.01, "weight_decay": 0.1, "betas": [0.8, 0.95]}),
    ("Adamax", {"maximize": True}),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01, "momentum_decay": 0.01, "weight_decay": 0.1, "betas": [0.8, 0.9]}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "betas": [0.9, 0.9]}),
    ("LBFGS", {"max_iter": 5}),
    ("LBFGS", {"lr": 0.5, "max_iter": 10, "history_size": 3}),
    ("LBFGS", {"line_search_fn": "strong_wolfe", "max_iter": 10}),
    ("LBFGS", {"line_search_fn": "strong_wolfe", "history_size": 2, "max_iter": 7, "tolerance_change": 1e-6}),
]

GROUP_CASES = [
    ("SGD", {"lr": 0.1}, [{"params": [0, 1], "options": {"lr": 0.05}},
                          {"params": [2], "options": {"momentum": 0.9, "nesterov": True}}]),
    ("Adam", {"lr": 0.01}, [{"params": [2, 0], "options": {}},
                            {"params": [1], "options": {"lr": 0.1, "amsgrad": True, "betas": [0.5, 0.6]}}]),
]


def optimizer_cases():
    cases = []
    for name, kwargs in OPTIMIZER_CASES:
        steps = 3 if name == "LBFGS" else 8
        cases.append(run_optimizer(name, kwargs, steps))
    for name, kwargs, groups in GROUP_CASES:
        cases.append(run_optimizer(name, kwargs, 6, groups))
    return cases


# ---- schedulers ----

def make_optimizer(spec):
    params = [torch.zeros(2, dtype=F64, requires_grad=True) for _ in spec["group_lrs"]]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, spec["group_lrs"])]
    return getattr(torch.optim, spec["type"])(groups, **spec.get("kwargs", {}))


LAMBDAS = {
    "pow095": lambda e: 0.95 ** e,
    "halve_every_3": lambda e: 0.5 ** (e // 3),
    "alternate": lambda e: 0.9 if e % 2 else 1.0,
}


def make_scheduler(spec, opt):
    kwargs = dict(spec.get("kwargs", {}))
    kind = spec["type"]
    if kind in ("LambdaLR", "MultiplicativeLR"):
        kwargs["lr_lambda"] = LAMBDAS[kwargs["lr_lambda"]]
    if kind == "SequentialLR":
        return torch.optim.lr_scheduler.SequentialLR(
            opt, [make_scheduler(s, opt) for s in spec["children"]], **kwargs)
    if kind == "ChainedScheduler":
        return torch.optim.lr_scheduler.ChainedScheduler([make_scheduler(s, opt) for s in spec["children"]])
    return getattr(torch.optim.lr_scheduler, kind)(opt, **kwargs)


def momentum_of(opt):
    out = []
    for g in opt.param_groups:
        out.append(g["betas"][0] if "betas" in g else g.get("momentum", 0.0))
    return out


def run_scheduler(spec, steps=30):
    opt = make_optimizer(spec["optimizer"])
    sched = make_scheduler(spec["scheduler"], opt)
    lrs = [[g["lr"] for g in opt.param_groups]]
    last = [list(sched.get_last_lr())] if hasattr(sched, "get_last_lr") else []
    momenta = [momentum_of(opt)]
    metrics = spec.get("metrics")
    for i in range(steps):
        opt.step()
        if metrics is not None:
            sched.step(metrics[i])
        else:
            sched.step()
        lrs.append([g["lr"] for g in opt.param_groups])
        momenta.append(momentum_of(opt))
        if last:
            last.append(list(sched.get_last_lr()))
    out = dict(spec, steps=steps, lrs=lrs, momenta=momenta)
    if last:
        out["last_lrs"] = last
    return out


SGD2 = {"type": "SGD", "group_lrs": [0.1, 0.05], "kwargs": {"momentum": 0.9}}
ADAM2 = {"type": "Adam", "group_lrs": [0.01, 0.002], "kwargs": {"betas": [0.9, 0.99]}}

SCHEDULER_CASES = [
    {"scheduler": {"type": "StepLR", "kwargs": {"step_size": 7, "gamma": 0.5}}},
    {"scheduler": {"type": "MultiStepLR", "kwargs": {"milestones": [5, 12, 12, 20], "gamma": 0.3}}},
    {"scheduler": {"type": "ExponentialLR", "kwargs": {"gamma": 0.9}}},
    {"scheduler": {"type": "CosineAnnealingLR", "kwargs": {"T_max": 10, "eta_min": 0.001}}},
    {"scheduler": {"type": "CosineAnnealingLR", "kwargs": {"T_max": 7}}},
    {"scheduler": {"type": "CosineAnnealingWarmRestarts", "kwargs": {"T_0": 5, "T_mult": 2, "eta_min": 0.001}}},
    {"scheduler": {"type": "CosineAnnealingWarmRestarts", "kwargs": {"T_0": 4}}},
    {"scheduler": {"type": "OneCycleLR", "kwargs": {"max_lr": [1.0, 0.5], "total_steps": 30}}, "steps": 29},
    {"scheduler": {"type": "OneCycleLR", "kwargs": {"max_lr": 0.8, "total_steps": 30, "anneal_strategy": "linear",
                                                    "three_phase": True, "pct_start": 0.25}}, "steps": 29},
    {"scheduler": {"type": "OneCycleLR", "kwargs": {"max_lr": 0.3, "epochs": 5, "steps_per_epoch": 6,
                                                    "div_factor": 10.0, "final_div_factor": 100.0,
                                                    "base_momentum": 0.8, "max_momentum": 0.9}},
     "optimizer": ADAM2, "steps": 29},
    {"scheduler": {"type": "OneCycleLR", "kwargs": {"max_lr": 0.3, "total_steps": 30, "cycle_momentum": False}},
     "steps": 29},
    {"scheduler": {"type": "LinearLR", "kwargs": {"start_factor": 0.25, "total_iters": 8}}},
    {"scheduler": {"type": "LinearLR", "kwargs": {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 10}}},
    {"scheduler": {"type": "ConstantLR", "kwargs": {"factor": 0.5, "total_iters": 4}}},
    {"scheduler": {"type": "LambdaLR", "kwargs": {"lr_lambda": "pow095"}}},
    {"scheduler": {"type": "LambdaLR", "kwargs": {"lr_lambda": "halve_every_3"}}},
    {"scheduler": {"type": "MultiplicativeLR", "kwargs": {"lr_lambda": "alternate"}}},
    {"scheduler": {"type": "ReduceLROnPlateau", "kwargs": {"patience": 2, "factor": 0.5}},
     "metrics": [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.8, 0.8, 0.8, 0.8, 0.79999, 0.8, 0.7, 0.7, 0.7, 0.7, 0.7,
                 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]},
    {"scheduler": {"type": "ReduceLROnPlateau",
                   "kwargs": {"mode": "max", "threshold_mode": "abs", "threshold": 0.01, "cooldown": 2,
                              "patience": 1, "factor": 0.3, "min_lr": [0.01, 0.001]}},
     "metrics": [0.1, 0.2, 0.205, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5,
                 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]},
    {"scheduler": {"type": "SequentialLR", "kwargs": {"milestones": [4]},
                   "children": [{"type": "ConstantLR", "kwargs": {"factor": 0.5, "total_iters": 3}},
                                {"type": "ExponentialLR", "kwargs": {"gamma": 0.9}}]}},
    {"scheduler": {"type": "SequentialLR", "kwargs": {"milestones": [5, 15]},
                   "children": [{"type": "LinearLR", "kwargs": {"start_factor": 0.1, "total_iters": 5}},
                                {"type": "CosineAnnealingLR", "kwargs": {"T_max": 10}},
                                {"type": "StepLR", "kwargs": {"step_size": 4, "gamma": 0.5}}]}},
    {"scheduler": {"type": "ChainedScheduler",
                   "children": [{"type": "ConstantLR", "kwargs": {"factor": 0.1, "total_iters": 2}},
                                {"type": "ExponentialLR", "kwargs": {"gamma": 0.9}}]}},
]


def scheduler_cases():
    cases = []
    for spec in SCHEDULER_CASES:
        spec = dict(spec)
        spec.setdefault("optimizer", SGD2)
        steps = spec.pop("steps", 30)
        cases.append(run_scheduler(spec, steps))
    return cases


# ---- clipping ----

def clip_cases():
    g = torch.Generator().manual_seed(1)
    grads = [torch.randn(3, 4, generator=g, dtype=F64), torch.randn(5, generator=g, dtype=F64),
             torch.randn(2, 1, generator=g, dtype=F64)]
    cases = []
    for max_norm, norm_type in [(1.0, 2.0), (100.0, 2.0), (0.5, 1.0), (0.7, "inf"), (2.0, 3.5), (0.1, 0.5)]:
        params = [torch.zeros_like(x, requires_grad=True) for x in grads]
        for p, x in zip(params, grads):
            p.grad = x.clone()
        nt = math.inf if norm_type == "inf" else norm_type
        total = torch.nn.utils.clip_grad_norm_(params, max_norm, nt)
        cases.append({"kind": "norm", "max_norm": max_norm, "norm_type": norm_type, "total_norm": float(total),
                      "clipped": [flat(p.grad) for p in params]})
    params = [torch.zeros_like(x, requires_grad=True) for x in grads]
    for p, x in zip(params, grads):
        p.grad = x.clone()
    torch.nn.utils.clip_grad_value_(params, 0.3)
    cases.append({"kind": "value", "clip_value": 0.3, "clipped": [flat(p.grad) for p in params]})
    return {"grads": [{"shape": list(x.shape), "values": flat(x)} for x in grads], "cases": cases}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(here, "optim"), exist_ok=True)
    doc = {
        "torch_version": torch.__version__,
        "initial_params": [{"shape": list(p.shape), "values": flat(p)} for p in initial_params()],
        "optimizers": optimizer_cases(),
        "schedulers": scheduler_cases(),
        "clip": clip_cases(),
    }
    with open(os.path.join(here, "optim", "optim.json"), "w") as f:
        json.dump(doc, f, indent=None)
        f.write("\n")


if __name__ == "__main__":
    main()
