"""GPU check: training throughput by precision, trials sharing one GPU, and one full-scale margin-loss epoch.

One command, at most about 8 minutes on one H100/H200:

    .venv/bin/python tests/bench/gpu.py [--data-root DIR] [--out gpu.json]
    .venv/bin/python tests/bench/gpu.py --tiny           # minutes on a CPU: the same code path, for its own test

1. ResNet-18 at 112 px (synthetic faces, ArcFace head): images/s in fp32, bf16 autocast + channels_last, and
   fp16 autocast + GradScaler, measured through the engine (`run_trial`, second epoch, so cuDNN autotuning and
   allocator warm-up are excluded). Each variant is a ratio against fp32 measured in the same run.
2. Sweep throughput with 1, 2 and 4 identical trials sharing the GPU (`--gpus-per-trial 1, 0.5, 0.25`): the same
   total work, wall time and images/s of the whole sweep, each as a ratio against one trial per GPU.
3. One full-scale margin-loss epoch (recipes/lfw-arcface-gpu.toml: ResNet-50, 112 px, ArcFace s=64 m=0.5, bf16 +
   channels_last) on LFW people of folds 0-4 when --data-root holds `lfw/`, else on synthetic faces of the same
   size: epoch seconds and images/s.

With --tiny every part runs at 32 px, width 0.25 and a few steps on whatever device there is; fp16 is reported
as skipped where there is no CUDA device (the engine refuses fp16 on CPU). The JSON written to --out holds every
number printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import tomllib

ROOT = Path(__file__).resolve().parents[2]
PRECISIONS = {  # name -> config keys
    "fp32": {"train.amp": "none", "train.channels_last": False},
    "bf16+channels_last": {"train.amp": "bf16", "train.channels_last": True},
    "fp16+GradScaler": {"train.amp": "fp16", "train.channels_last": False},
}
SHARING = (1, 2, 4)


def scale(tiny: bool) -> dict[str, Any]:
    """The sizes of every part; --tiny shrinks all of them alike."""
    if tiny:
        return {
            "size": 32,
            "width": 0.25,
            "steps": 4,
            "batch": 32,
            "identities": 24,
            "images": 8,
            "sweep_trials": 2,
            "sweep_epochs": 1,
            "sharing": (1, 2),
            "full_steps": 3,
        }
    return {
        "size": 112,
        "width": 1.0,
        "steps": 120,
        "batch": 128,
        "identities": 400,
        "images": 20,
        "sweep_trials": 8,
        "sweep_epochs": 2,
        "sharing": SHARING,
        "full_steps": 0,
    }


def synthetic(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "data.train": "synthetic",
        "data.synthetic_identities": s["identities"],
        "data.synthetic_images": s["images"],
        "data.image_size": s["size"],
        "data.val_pairs": 200,
    }


def trial_config(s: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "task": "face",
        **synthetic(s),
        "model.backbone": "resnet18",
        "model.width": s["width"],
        "model.stem": "imagenet" if s["size"] >= 112 else "cifar",
        "loss.name": "arcface",
        "train.epochs": 2,
        "train.batch_size": s["batch"],
        "train.max_steps": s["steps"],
        "train.checkpoint": False,
        "train.augment": "flip",
        **extra,
    }


def run_engine(config: dict[str, Any], workdir: Path) -> list[dict[str, Any]]:
    """Per-epoch metrics of one engine trial (raises if the trial did not complete)."""
    from facebench.engine import run_trial

    epochs: list[dict[str, Any]] = []
    result = run_trial(config, epochs.append, trial_dir=workdir, resume=False, raise_on_error=True)
    if result.get("status") != "completed":
        raise RuntimeError(f"trial did not complete: {result.get('reason')}")
    return epochs


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def precision_part(s: dict[str, Any], tmp: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, keys in PRECISIONS.items():
        if keys["train.amp"] == "fp16" and not cuda_available():
            out[name] = {"skipped": "fp16 autocast needs a CUDA device"}
            continue
        epochs = run_engine(trial_config(s, keys), tmp / f"precision-{name}")
        out[name] = {"images_per_s": epochs[-1]["images_per_s"], "peak_mem_mb": epochs[-1].get("peak_mem_mb")}
    base = out["fp32"]["images_per_s"]
    for v in out.values():
        if "images_per_s" in v:
            v["vs_fp32"] = v["images_per_s"] / base
    return out


SWEEP_FILE = """from functools import partial
from facebench.sweep import SweepSpec, main, space
SPEC = SweepSpec(name="share", task="face", base={base!r}, space=partial(space.fixed, values={{}}),
                 num_samples={n}, scheduler="fifo", cpus_per_trial=1, gpus_per_trial=1.0,
                 description="GPU sharing check: identical trials")
if __name__ == "__main__":
    raise SystemExit(main(SPEC))
"""


def sharing_part(s: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """The same trials run 1, 2, 4 to a GPU (on CPU: that many at once); whole-sweep wall time."""
    base = trial_config(s, {"train.epochs": s["sweep_epochs"]})
    images = s["sweep_trials"] * s["sweep_epochs"] * s["steps"] * s["batch"]
    path = tmp / "share_sweep.py"
    path.write_text(SWEEP_FILE.format(base=base, n=s["sweep_trials"]))
    gpu = cuda_available()
    out: dict[str, Any] = {}
    for k in s["sharing"]:
        flags = ["--gpus-per-trial", str(1 / k)] if gpu else ["--gpus-per-trial", "0", "--max-concurrent", str(k)]
        results = tmp / f"share-{k}"
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, str(path), "--local", "--quiet", "--results", str(results), *flags],
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        wall = time.perf_counter() - started
        summary = json.loads((results / "share" / "summary.json").read_text())
        completed = summary.get("counts", {}).get("completed", 0)
        out[f"{k}_per_gpu" if gpu else f"{k}_concurrent"] = {
            "wall_s": wall,
            "completed": completed,
            "images_per_s": images / wall,
        }
    first = next(iter(out.values()))["images_per_s"]
    for v in out.values():
        v["vs_one"] = v["images_per_s"] / first
    return out


def full_scale_part(s: dict[str, Any], tmp: Path, data_root: str | None, tiny: bool) -> dict[str, Any]:
    recipe = tomllib.loads((ROOT / "recipes" / "lfw-arcface-gpu.toml").read_text())
    from facebench.config import flatten

    config = flatten(recipe)
    lfw = Path(data_root, "lfw") if data_root else None
    if lfw is not None and lfw.is_dir():
        config["data.root"] = str(lfw)
        source = f"LFW people of folds 0-4 at {lfw}"
    else:
        config = {k: v for k, v in config.items() if not k.startswith("data.")}
        config.update(synthetic(s))
        source = "synthetic faces"
    config.update({"train.epochs": 1, "train.checkpoint": False, "train.max_steps": s["full_steps"]})
    if not cuda_available():
        config["train.amp"] = "bf16"
    if tiny:
        config.update(
            {
                "data.image_size": s["size"],
                "model.width": s["width"],
                "model.backbone": "resnet18",
                "model.stem": "cifar",
                "train.batch_size": s["batch"],
            }
        )
    epoch = run_engine(config, tmp / "full-scale")[-1]
    return {
        "source": source,
        "epoch_s": epoch["epoch_s"],
        "images_per_s": epoch["images_per_s"],
        "peak_mem_mb": epoch.get("peak_mem_mb"),
    }


def device_line() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (torch {torch.__version__}, CUDA {torch.version.cuda})"
    return f"CPU only (torch {torch.__version__}, {os.cpu_count()} cores)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="32 px, width 0.25, a few steps: for CPUs and its own test")
    ap.add_argument(
        "--data-root",
        default=os.environ.get("FACEBENCH_DATA"),
        help="real data root with lfw/ for the full-scale epoch (default: synthetic faces)",
    )
    ap.add_argument("--out", default="gpu.json", help="where the numbers go (JSON)")
    ap.add_argument("--parts", default="precision,sharing,full", help="comma-separated subset of the parts")
    args = ap.parse_args(argv)
    s = scale(args.tiny)
    parts = set(args.parts.split(","))
    report: dict[str, Any] = {"device": device_line(), "tiny": args.tiny, "scale": s}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fb_gpu_") as tmp:
        if "precision" in parts:
            report["precision"] = precision_part(s, Path(tmp))
            print_part("ResNet-18 training images/s by precision", report["precision"])
        if "sharing" in parts:
            report["sharing"] = sharing_part(s, Path(tmp))
            print_part("sweep throughput, trials sharing the device", report["sharing"])
        if "full" in parts:
            report["full_scale_epoch"] = full_scale_part(s, Path(tmp), args.data_root, args.tiny)
            print_part("one full-scale margin-loss epoch", {"epoch": report["full_scale_epoch"]})
    report["wall_s"] = time.perf_counter() - started
    Path(args.out).write_text(json.dumps(report, indent=2, default=str))
    print(f"{report['device']}: {report['wall_s']:.0f} s in all; numbers in {args.out}")
    return 0


def print_part(title: str, rows: dict[str, Any]) -> None:
    print(f"\n{title}")
    for name, row in rows.items():
        cells = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()]
        print(f"  {name:22s} " + "  ".join(cells))


if __name__ == "__main__":
    raise SystemExit(main())
