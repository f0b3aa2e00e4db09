"""Builders of the bad inputs that tests/test_bad_input.py feeds to the real CLI (one function per family).

Each builder gets a fresh folder and returns the CLI arguments; what it wrote that must survive is listed in
``KEEP`` files the test compares byte for byte after the run ("nothing written lost").
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

KEEP = "notes.txt"  # a user's file placed beside the bad input; it must be byte-identical afterwards
TINY = {
    "task": "face",
    "model.backbone": "cnn",
    "loss.name": "arcface",
    "data.image_size": 24,
    "model.width": 0.125,
    "train.epochs": 1,
    "train.batch_size": 8,
    "data.synthetic_identities": 8,
    "data.synthetic_images": 4,
    "data.val_pairs": 16,
    "train.max_steps": 2,
    "eval.batch_size": 64,
    "train.threads": 1,
}
NAMES = [f"P{i}/P{i}_{j:04d}.jpg" for i in range(4) for j in (1, 2)]


def sets(config: dict) -> list[str]:
    return [a for k, v in config.items() for a in ("--set", f"{k}={v}")]


def keep(d: Path) -> Path:
    (d / KEEP).write_text("the user's own notes\n")
    return d / KEEP


# -- config files ---------------------------------------------------------------------------------------------
def config_file(name: str, content: str | bytes):
    def build(d: Path) -> list[str]:
        p = d / name
        p.write_bytes(content.encode() if isinstance(content, str) else content)
        keep(d)
        return ["train", "--config", str(p), "--out", str(d / "out")]

    return build


def alias_bomb() -> str:
    text, prev = "a: &a [1]\n", "a"
    for i in range(9):
        text += f"l{i}: &l{i}\n" + "".join(f"  k{j}: *{prev}\n" for j in range(9))
        prev = f"l{i}"
    return text


# -- embeddings and pairs -------------------------------------------------------------------------------------
def pairs_csv(d: Path, rows: list[tuple[str, str, int, int]] | None = None) -> Path:
    rows = rows or [(NAMES[2 * i], NAMES[2 * i + 1], 1, i % 2) for i in range(4)] + [
        (NAMES[i], NAMES[(i + 2) % 8], 0, i % 2) for i in range(0, 8, 2)
    ]
    p = d / "pairs.csv"
    p.write_text("path_a,path_b,same,fold\n" + "".join(f"{a},{b},{s},{f}\n" for a, b, s, f in rows))
    return p


def embeddings(emb, *, metric: str = "euclidean", names=NAMES):
    def build(d: Path) -> list[str]:
        np.savez(d / "emb.npz", names=np.array(names), embeddings=emb)
        keep(d)
        return ["eval", "pairs", "--embeddings", str(d / "emb.npz"), "--pairs", str(pairs_csv(d)), "--metric", metric]

    return build


def huge_header(d: Path) -> list[str]:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
    names = io.BytesIO()
    np.save(names, np.array(NAMES))
    with zipfile.ZipFile(d / "emb.npz", "w") as z:
        z.writestr("names.npy", names.getvalue())
        z.writestr("embeddings.npy", header.getvalue() + bytes(64))
    return ["eval", "pairs", "--embeddings", str(d / "emb.npz"), "--pairs", str(pairs_csv(d))]


def self_pair(command: str):
    def build(d: Path) -> list[str]:
        p = pairs_csv(d, [(NAMES[0], NAMES[0], 1, 0), (NAMES[0], NAMES[2], 0, 1)])
        if command == "check":
            return ["data", "check", str(p)]
        np.savez(d / "emb.npz", names=np.array(NAMES), embeddings=np.eye(8))
        return ["eval", "pairs", "--embeddings", str(d / "emb.npz"), "--pairs", str(p)]

    return build


def verification(scores) -> dict:
    n = len(scores)
    return dict(
        scores=np.asarray(scores, dtype=np.float64),
        same=np.arange(n) % 2 == 0,
        fold=np.arange(n) % 2,
        greater_is_same=np.array(True),
    )


def compare(scores_b, *extra: str):
    def build(d: Path) -> list[str]:
        rng = np.random.default_rng(0)
        np.savez(d / "a.npz", **verification(rng.random(600)))
        np.savez(d / "b.npz", **verification(scores_b if scores_b is not None else rng.random(600)))
        return ["eval", "compare", str(d / "a.npz"), str(d / "b.npz"), *extra]

    return build


def pairs_header(d: Path) -> list[str]:
    np.savez(d / "emb.npz", names=np.array(NAMES), embeddings=np.eye(8))
    (d / "pairs.csv").write_text("a,b,same\nP0/P0_0001.jpg,P0/P0_0002.jpg,1\n")
    return ["eval", "pairs", "--embeddings", str(d / "emb.npz"), "--pairs", str(d / "pairs.csv")]


def compare_other_pairs(d: Path) -> list[str]:
    rng = np.random.default_rng(0)
    np.savez(d / "a.npz", **verification(rng.random(600)))
    other = verification(rng.random(600))
    other["same"] = ~other["same"]
    np.savez(d / "b.npz", **other)
    return ["eval", "compare", str(d / "a.npz"), str(d / "b.npz")]


# -- CIFAR image folders ----------------------------------------------------------------------------------------
CIFAR = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def cifar_folder(d: Path, *, train_extra: str = "", test_missing: str = "") -> Path:
    from PIL import Image

    root = d / "cifar10"
    for split in ("train", "test"):
        classes = [c for c in CIFAR if not (split == "test" and c == test_missing)]
        classes += [train_extra] if split == "train" and train_extra else []
        for c in classes:
            (root / split / c).mkdir(parents=True)
            Image.new("RGB", (32, 32), (len(c) * 20, 0, 0)).save(root / split / c / "0000.png")
    return root


def cifar(command: str, **kw):
    def build(d: Path) -> list[str]:
        root = cifar_folder(d, **kw)
        if command == "check":
            return ["data", "check", str(root)]
        return [
            "train",
            *sets({**TINY, "task": "cifar", "data.train": "cifar10", "data.root": str(root)}),
            "--out",
            str(d / "out"),
            "--quiet",
        ]

    return build


# -- sweep files --------------------------------------------------------------------------------------------------
SPACE = """from facebench.sweep import SweepSpec, main

def space(trial):
    {body}
    return {{"optim.lr": trial.suggest_float("optim.lr", 1e-4, 1e-1, log=True)}}

SPEC = SweepSpec(name="bad", task="face", base={{"train.epochs": 1}}, space=space, num_samples=1)
{tail}"""
MAIN = 'if __name__ == "__main__":\n    raise SystemExit(main(SPEC))\n'


def sweep_file(text: str, *extra: str):
    def build(d: Path) -> list[str]:
        (d / "mysweep.py").write_text(text)
        return ["sweep", str(d / "mysweep.py"), "--results", str(d / "runs"), "--local", *extra]

    return build


def sweep_space(body: str = "pass", tail: str = MAIN, *extra: str):
    return sweep_file(SPACE.format(body=body, tail=tail), *extra)


def sweep_results(name: str, *, prepare: str = "", fresh: bool = True):
    """``facebench sweep`` of a valid sweep file with ``--name name`` against a results folder prepared as
    ``prepare`` says: "user" (a folder of the user's under that name), "file" (--results is a file)."""

    def build(d: Path) -> list[str]:
        results = d / "results"
        results.mkdir()
        keep(d)
        keep(results)
        if prepare == "user":
            (results / name).mkdir()
            keep(results / name)
            (results / name / "otherdata").mkdir()
        if prepare == "file":
            results = d / KEEP
        (d / "ok.py").write_text(SPACE.format(body="pass", tail=MAIN))
        return [
            "sweep",
            str(d / "ok.py"),
            "--results",
            str(results),
            "--name",
            name,
            "--local",
            *(["--fresh"] if fresh else []),
        ]

    return build


# -- trial folders ----------------------------------------------------------------------------------------------
def trial_dir(d: Path, *, checkpoint: bytes | None = None) -> Path:
    out = d / "out"
    out.mkdir()
    (out / ".facebench").write_text(json.dumps({"kind": "trial", "owner": "facebench"}))
    if checkpoint is not None:
        (out / "checkpoint.pt").write_bytes(checkpoint)
    return out


def checkpoint(content):
    def build(d: Path) -> list[str]:
        if callable(content):
            trial_dir(d)
            content(d / "out" / "checkpoint.pt")
        else:
            trial_dir(d, checkpoint=content)
        return ["train", *sets(TINY), "--out", str(d / "out"), "--quiet"]

    return build


def torch_save(obj):
    def write(path: Path) -> None:
        import torch

        torch.save(obj, path)

    return write


def out_is(kind: str):
    def build(d: Path) -> list[str]:
        target = keep(d)
        if kind == "user folder":
            target = d / "mine"
            target.mkdir()
            keep(target)
        return ["train", *sets(TINY), "--out", str(target), "--quiet"]

    return build


def report_of(kind: str, *extra: str):
    def build(d: Path) -> list[str]:
        trial = d / "trial"
        trial.mkdir()
        (trial / "result.json").write_text(
            json.dumps({"status": "completed", "metrics": {"test_accuracy_mean": 0.99}, "config": {}})
        )
        out = d / "report"
        if kind == "out is a folder of the user's":
            (trial / "result.json").write_text(json.dumps({"status": "completed", "config": TINY, "metrics": {}}))
            out = d / "mine"
            out.mkdir()
            keep(out)
            (out / "index.html").write_text("<p>the user's own page</p>")
        if kind == "out is a file":
            (trial / "result.json").write_text(json.dumps({"status": "completed", "config": TINY, "metrics": {}}))
            out = keep(d)
        return ["report", str(trial), "--out", str(out), *extra]

    return build
