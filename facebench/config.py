"""The typed, validated trial config.

A section's own keys (``optim.lr``) are declared here; the keys of its variants (``loss.margin``,
``schedule.gamma``, ``model.stem``) are declared by each variant beside its code (``facebench.losses``,
``facebench.optim``, ``facebench.models``, ``facebench.data``) and merged into the section below. A config is
built from a flat dict such as Ray Tune / Optuna produce (``{"loss.margin": 0.5, ...}``), from a nested dict
or file, and from ``--set key=value`` overrides. An unknown key, a wrong type, an out-of-range value or an
incompatible combination is a ``ConfigError`` naming the key and the allowed values.

A variant key's default is the variants' common default; where their defaults differ (``loss.margin``) it
is None, meaning "the default the chosen variant declares". A value set for a variant that does not
declare the key is rejected rather than silently ignored. Importing this module imports no torch and no
engine code: the declarations are plain data.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import losses, optim  # noqa: F401  (their declarations fill the registries the sections merge)
from .configfile import flatten_unique, load_config_file
from .data import DATASETS
from .errors import ConfigError
from .eval import FLIPS, METRICS
from .models import AUTOENCODER_BACKBONES
from .params import SEED_MAX, Param, coerce
from .variants import check_choice, check_keys, chosen_params, describe, selectors, with_variants

TASKS = ("face", "autoencoder", "cifar")
# Validation metrics a trial can be selected by, with the direction that is better; which a task reports.
OBJECTIVE_MODES = {"val_accuracy": "max", "val_auc": "max", "val_loss": "min"}
# First: what "auto" means; for verification the best predictor of test accuracy measured on LFW (docs/sweeps.md).
TASK_OBJECTIVES = {
    "face": ("val_accuracy", "val_auc"),
    "autoencoder": ("val_accuracy", "val_auc"),
    "cifar": ("val_accuracy", "val_loss"),
}
SELECT_RULES = ("best", "last")


def _f(default: Any, doc: str, *, registry: str | None = None, **checks: Any) -> Any:
    """A section's own key: a dataclass field carrying its ``Param``; ``registry``: its value names a variant."""
    return field(default=default, metadata={"param": Param(default, doc, **checks), "registry": registry})


@dataclass(frozen=True)
class DataConfig:
    train: str = _f("synthetic", "training dataset", registry="dataset")
    root: str = _f("", "training dataset root (unused for synthetic)")
    test: str = _f(
        "auto",
        "test protocol source; auto: synthetic->synthetic, LFW people->LFW's other folds, "
        "identity folders/AT&T->all 10 LFW folds, cifar10->its test split",
        choices=("auto", "synthetic", "lfw", "cifar10"),
    )
    test_root: str = _f("", "test dataset root (default: data.root)")
    pairs: str = _f("", "pairs file: LFW pairs.txt or CSV path_a,path_b,same,fold (default: <test_root>/pairs.txt)")
    test_folds: str = _f(
        "",
        "LFW folds of the test protocol, e.g. '5-9' (default: the folds not in data.train_folds "
        "for lfw_people, all folds otherwise)",
    )
    min_images: int = _f(1, "minimum images per training identity", lo=1, hi=100_000)
    limit: int = _f(0, "cap on training images, 0 = all (CPU-scale runs)", lo=0, hi=10**9)
    val_fraction: float = _f(
        0.1,
        "fraction of training identities (faces) or images (CIFAR) held out for validation; never the test protocol",
        lo=0.0,
        hi=0.5,
        lo_open=True,
    )
    val_pairs: int = _f(
        6000,
        "cap on validation pairs: as many same/different pairs as the held-out identities "
        "allow, up to this many (balanced, 5 identity-disjoint folds)",
        lo=2,
        hi=10**7,
    )
    image_size: int = _f(64, "input side in pixels after resizing", lo=16, hi=512)
    crop: float = _f(1.0, "central crop fraction of the source image before resizing", lo=0.1, hi=1.0, lo_open=True)
    color: str = _f("rgb", "colour mode", choices=("rgb", "gray"))
    cache_dir: str = _f("", "decoded-tensor cache directory (default: $FACEBENCH_CACHE or ~/.cache/facebench)")
    allow_test_images: bool = _f(
        False,
        "train even when training images have the same pixels as test images "
        "(refused by default; recorded in the trial's meta; docs/datasets.md)",
    )
    synthetic_identities: int = _f(48, "synthetic: number of identities", lo=4, hi=100_000)
    synthetic_images: int = _f(8, "synthetic: images per identity", lo=2, hi=10_000)
    synthetic_seed: int = _f(0, "synthetic: generator seed", lo=0, hi=SEED_MAX)
    synthetic_test_identities: int = _f(
        0,
        "synthetic: test identities, split over the 10 test folds (0: a quarter "
        "of synthetic_identities, at least 2 per fold)",
        lo=0,
        hi=100_000,
    )
    synthetic_test_pairs: int = _f(
        0,
        "synthetic: test pairs over the 10 folds, balanced, as many as the test "
        "identities allow (0: 600, i.e. 60 per fold)",
        lo=0,
        hi=10**7,
    )


def _chooser(cls_name: str, key: str, default: str, doc: str, registry: str) -> type:
    """A section whose only own key names its variant; every other key is declared by the variants."""
    return dataclasses.make_dataclass(
        cls_name, [(key, str, _f(default, doc, registry=registry))], frozen=True, namespace={"__module__": __name__}
    )


ModelConfig = _chooser("ModelConfig", "backbone", "resnet18", "backbone network", "backbone")
LossConfig = _chooser("LossConfig", "name", "arcface", "loss / head", "loss")
ScheduleConfig = _chooser("ScheduleConfig", "name", "cosine", "LR schedule", "scheduler")


@dataclass(frozen=True)
class OptimConfig:
    name: str = _f("adamw", "optimizer", registry="optimizer")
    lr: float = _f(
        1e-3, "peak learning rate", lo=0.0, hi=1e6, lo_open=True
    )  # hi: divergence studies; no recipe comes near it
    weight_decay: float = _f(5e-4, "weight decay", lo=0.0, hi=1.0)
    no_decay_norm_bias: bool = _f(True, "no weight decay on norm layers and biases")
    grad_clip: float = _f(0.0, "gradient-norm clipping threshold, 0 = off", lo=0.0, hi=1e6)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = _f(
        10, "training epochs (at most 10,000: no run needs more; a typo such as 1e21 is refused)", lo=1, hi=10_000
    )
    batch_size: int = _f(64, "batch size", lo=1, hi=65_536)
    seed: int = _f(0, "seed for Python, NumPy, torch and data order (torch takes seeds below 2^63)", lo=0, hi=SEED_MAX)
    device: str = _f("auto", "training device", choices=("auto", "cpu", "cuda"))
    amp: str = _f("none", "autocast dtype (bf16/fp16 where the device supports it)", choices=("none", "bf16", "fp16"))
    channels_last: bool = _f(False, "channels_last memory format")
    compile: bool = _f(False, "torch.compile the model (no gain on CPU)")
    augment: str = _f("flip", "augmentation preset", registry="augmentation")
    max_steps: int = _f(0, "cap on optimizer steps per epoch, 0 = full epochs", lo=0, hi=10**9)
    checkpoint: bool = _f(True, "write a resumable checkpoint every epoch")
    threads: int = _f(0, "torch intra-op threads, 0 = torch's default", lo=0, hi=1024)
    objective: str = _f(
        "auto",
        "validation metric that picks a trial's epoch and ranks trials; auto: "
        "val_accuracy (verification accuracy on the held-out identities' pairs, or CIFAR accuracy)",
        choices=("auto", *OBJECTIVE_MODES),
    )
    select: str = _f(
        "best",
        "which epoch is the trial: best = the epoch with the best objective (early stopping; "
        "its weights are kept and tested), last = the final epoch",
        choices=SELECT_RULES,
    )


@dataclass(frozen=True)
class EvalConfig:
    metric: str = _f("cosine", "verification score", choices=METRICS)
    normalize: bool = _f(False, "L2-normalise embeddings before scoring")
    flip: str = _f("none", "flip fusion of original and mirrored embeddings", choices=FLIPS)
    batch_size: int = _f(256, "embedding batch size", lo=1, hi=65_536)
    whiten: int = _f(
        0,
        "PCA-whiten embeddings before scoring, with this many components fitted on the training "
        "images' embeddings only (0 = off; the eigenfaces floor's treatment)",
        lo=0,
        hi=16384,
    )
    sets: str = _f(
        "",
        "more verification sets, each tested once at the end (never for selection), comma-"
        "separated PATH or NAME=PATH: InsightFace .bin files or LFW-style folders, e.g. "
        "'lfw.bin,cfp_fp.bin,agedb_30.bin'",
    )
    set_folds: str = _f(
        "",
        "folds of every eval.sets set to test on, e.g. '5-9' (default: all 10); leave out the "
        "folds whose people trained the model",
    )


# Each section with the keys its variants declare (facebench.variants); these names are the merged classes.
SECTIONS: dict[str, type] = {
    "data": with_variants(DataConfig),
    "model": with_variants(ModelConfig),
    "loss": with_variants(LossConfig),
    "optim": with_variants(OptimConfig),
    "schedule": with_variants(ScheduleConfig),
    "train": with_variants(TrainConfig),
    "eval": with_variants(EvalConfig),
}
DataConfig, ModelConfig, LossConfig, OptimConfig, ScheduleConfig, TrainConfig, EvalConfig = SECTIONS.values()
TOP_LEVEL = {
    "task": (
        "face",
        "task: face (identities -> verification), autoencoder (AE/DAE/VAE -> verification) or cifar (classification)",
    ),
    "name": ("", "free-text trial name"),
}


@dataclass(frozen=True)
class TrialConfig:
    task: str = "face"
    name: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None = None) -> TrialConfig:
        """Build from a flat (``{"loss.margin": 0.5}``) or nested (``{"loss": {"margin": 0.5}}``) dict."""
        flat = flatten(values or {})
        top: dict[str, Any] = {}
        sections: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
        for key, value in flat.items():
            if key in TOP_LEVEL:
                top[key] = coerce(key, str, value)
                continue
            section, _, name = key.partition(".")
            sections[section][name] = check_key(key, value)  # raises for an unknown section first
        cfg = cls(**top, **{s: SECTIONS[s](**v) for s, v in sections.items()})
        cfg.validate()
        return cfg

    @classmethod
    def from_file(cls, path: str | Path, overrides: list[str] | None = None) -> TrialConfig:
        return cls.from_dict({**load_file(path), **parse_overrides(overrides or [])})

    def with_overrides(self, overrides: list[str] | Mapping[str, Any]) -> TrialConfig:
        extra = parse_overrides(overrides) if isinstance(overrides, list) else flatten(overrides)
        return TrialConfig.from_dict({**self.to_flat(), **extra})

    def to_flat(self) -> dict[str, Any]:
        out: dict[str, Any] = {"task": self.task, "name": self.name}
        for section in SECTIONS:
            for k, v in dataclasses.asdict(getattr(self, section)).items():
                out[f"{section}.{k}"] = v
        return out

    def get(self, key: str) -> Any:
        """A value by its flat key, e.g. ``cfg.get("schedule.name")``."""
        section, _, name = key.partition(".")
        return getattr(getattr(self, section), name) if name else getattr(self, section)

    # -- derived values -----------------------------------------------------------------------
    @property
    def in_channels(self) -> int:
        return 1 if self.data.color == "gray" else 3

    @property
    def is_autoencoder(self) -> bool:
        return self.model.backbone in AUTOENCODER_BACKBONES

    @property
    def objective(self) -> tuple[str, str]:
        """(validation metric, "max" | "min"): what picks this trial's epoch and ranks it in a sweep."""
        return objective_of(self.task, self.train.objective)

    def params(self, section: str) -> dict[str, Any]:
        """The keys the chosen variant of ``section`` declares, unset ones at its default: what its builder takes."""
        (reg,) = [r for r in selectors(SECTIONS[section]) if r.key.startswith(section + ".")]
        return chosen_params(self.get, section, reg)

    # -- validation ---------------------------------------------------------------------------
    def validate(self) -> None:
        """Every choice known and its ``requires`` met; every variant key in range or unused at its default."""
        if self.task not in TASKS:
            raise ConfigError(f"task: {self.task!r} is not allowed; choose one of: {', '.join(TASKS)}")
        for section, cls in SECTIONS.items():
            for reg in selectors(cls):
                check_choice(self.get, reg)
            check_keys(self.get, section, cls)
        if DATASETS.get(self.data.train).kind == "files" and not self.data.root:
            raise ConfigError(f"data.root: dataset {self.data.train!r} needs a root directory (--set data.root=PATH)")
        objective_of(self.task, self.train.objective)


def objective_of(task: str, objective: str) -> tuple[str, str]:
    """Resolve ``train.objective`` for ``task``: (metric, mode); a metric the task does not report is an error."""
    allowed = TASK_OBJECTIVES.get(task, ())
    metric = allowed[0] if objective == "auto" and allowed else objective
    if metric not in allowed:
        raise ConfigError(
            f"train.objective: {objective!r} is not reported by task {task!r}; choose one of: "
            f"{', '.join(('auto',) + allowed)}"
        )
    return metric, OBJECTIVE_MODES[metric]


# -- helpers ----------------------------------------------------------------------------------


def all_keys() -> list[str]:
    keys = list(TOP_LEVEL)
    for section, cls in SECTIONS.items():
        keys += [f"{section}.{f.name}" for f in dataclasses.fields(cls)]
    return keys


def describe_keys() -> list[tuple[str, str, str, str]]:
    """(key, type, default, doc) for every key: the reference table in the docs and `facebench list`."""
    rows = [(k, "str", repr(TrialConfig.__dataclass_fields__[k].default), doc) for k, (_, doc) in TOP_LEVEL.items()]
    for section, cls in SECTIONS.items():
        hints = _type_hints(cls)
        rows += [describe(section, f, hints[f.name]) for f in dataclasses.fields(cls)]
    return rows


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested to flat keys; a key given both flat and nested is a ConfigError (facebench.configfile)."""
    return flatten_unique(values, prefix)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["loss.margin=0.5", "model.neck=false"]`` -> a flat dict of strings, coerced later by type."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set loss.margin=0.5")
        out[key.strip()] = value.strip()
    return out


def load_file(path: str | Path) -> dict[str, Any]:
    """A config file as a flat dict; a repeated key, bad encoding or parse error names the file."""
    return load_config_file(path)


def check_key(key: str, value: Any) -> Any:
    """``value`` coerced to the type of section key ``key`` and checked against its choices and range."""
    section, _, name = key.partition(".")
    if section not in SECTIONS or not name:
        raise ConfigError(f"unknown config key {key!r}; keys are {', '.join(all_keys())}")
    fields = {f.name: f for f in dataclasses.fields(SECTIONS[section])}
    if name not in fields:
        raise ConfigError(
            f"unknown config key {key!r}; {section}.* keys are {', '.join(section + '.' + n for n in fields)}"
        )
    return _check_field(key, fields[name], value)


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    # The annotations are strings (``from __future__ import annotations``); evaluate them once per section,
    # not once per key of every config built.
    return typing.get_type_hints(cls)


def _check_field(key: str, f: dataclasses.Field, value: Any) -> Any:
    if "param" in f.metadata:  # a section's own key: type, choices and range
        return f.metadata["param"].check(key, value)
    # A variant's key: the type here; its range is the chosen variant's, checked by validate()
    return coerce(key, _type_hints(SECTIONS[key.split(".")[0]])[f.name], value)
