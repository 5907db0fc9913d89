"""Time one training step of a 16-layer ALISTA (batch 128, canonical problem).

Compares the plain eager loop with the CUDA-graph replay the engine uses on GPUs,
and times prediction of 1,000 signals. Prints one JSON line per measurement.

    python benchmarks/step_time.py --device cuda
"""

import argparse
import json
import time

import torch

from sklearn_l2o import ALISTA
from sklearn_l2o._engine import (
    LayerwiseAdam,
    Recipe,
    _GraphedStep,
    _moved,
    _step_sizes,
)
from sklearn_l2o.datasets import make_sparse_recovery


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()

    B, X, A = make_sparse_recovery(10000, random_state=0)
    est = ALISTA(dictionary=A, device=args.device)
    from sklearn_l2o._torch import resolve_device

    device = resolve_device(args.device)
    net = est._build_net(A, B, X, device, torch.float32)
    Bt = torch.tensor(B, dtype=torch.float32, device=device)
    Xt = torch.tensor(X, dtype=torch.float32, device=device)
    params, rows, sizes = _step_sizes(net, "b", 16, Recipe(layer_decay=1.0))
    with torch.no_grad():
        opt = LayerwiseAdam(_moved(params, rows), sizes)

    def step(idx):
        b, x = Bt[idx], Xt[idx]
        loss = torch.sum((net(b) - x) ** 2) / b.shape[0]
        grads = torch.autograd.grad(loss, params)
        opt.step(_moved(grads, rows))

    gen = torch.Generator(device=device).manual_seed(0)
    idx = torch.randint(
        B.shape[0], (args.steps, args.batch_size), generator=gen, device=device
    )
    results = {"device": str(device), "batch_size": args.batch_size, "layers": 16}
    if device.type == "cuda":
        results["gpu"] = torch.cuda.get_device_name(0)
    for name in ["eager", "cuda_graph"] if device.type == "cuda" else ["eager"]:
        runner = step if name == "eager" else _GraphedStep(step, idx[0])
        if name == "cuda_graph":
            results["graph_captured"] = runner.graph is not None
        for i in range(10):
            runner(idx[i])
        sync(device)
        start = time.perf_counter()
        for i in range(args.steps):
            runner(idx[i])
        sync(device)
        results[f"{name}_ms_per_step"] = (
            1000 * (time.perf_counter() - start) / args.steps
        )

    Btest, _, _ = make_sparse_recovery(1000, dictionary=A, random_state=1)
    b = torch.tensor(Btest, dtype=torch.float32, device=device)
    with torch.no_grad():
        net(b)
        sync(device)
        start = time.perf_counter()
        for _ in range(10):
            net(b)
        sync(device)
    results["predict_1000_ms"] = 100 * (time.perf_counter() - start)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
