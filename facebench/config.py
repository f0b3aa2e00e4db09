"""The typed, validated trial config.

Every knob is declared once here, with its type, unit, range or choices. A config is built from a
flat dict such as Ray Tune / Optuna produce (``{"loss.margin": 0.5, ...}``), from a nested dict or
file, and from ``--set key=value`` overrides. An unknown key, a wrong type, an out-of-range value or an
incompatible combination is a ``ConfigError`` naming the key and the allowed values.

``None`` for a loss or model hyperparameter means "the published default of the chosen variant"; a
value set for a variant that does not use it is rejected rather than silently ignored.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from .configfile import flatten_unique, load_config_file
from .errors import ConfigError

TASKS = ("face", "autoencoder", "cifar")
AUTOENCODER_BACKBONES = ("ae", "dae", "vae")
RECON_LOSSES = ("vae", "ae")
MARGIN_LOSSES = ("normsoftmax", "sphereface", "cosface", "arcface", "curricularface", "adaface")
METRICS = ("euclidean", "sqeuclidean", "cosine")  # verification scores: facebench.eval.verification.pair_scores
FLIPS = ("none", "sum", "concat")  # flip fusion: facebench.eval.embed.embed_images


def _f(default: Any, doc: str, *, choices: tuple | None = None, registry: str | None = None,
       lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open: bool = False,
       used_by: tuple[str, tuple[str, ...]] | None = None) -> Any:
    # used_by=("schedule.name", ("step",)): the key means something only for those variants; set away from its
    # default for another variant it is rejected rather than silently ignored.
    meta = {"doc": doc, "choices": choices, "registry": registry, "lo": lo, "hi": hi,
            "lo_open": lo_open, "hi_open": hi_open, "used_by": used_by}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class DataConfig:
    train: str = _f("synthetic", "training dataset", registry="dataset")
    root: str = _f("", "training dataset root (unused for synthetic)")
    test: str = _f("auto", "test protocol source; auto: synthetic->synthetic, LFW people->LFW's other folds, "
                   "identity folders/AT&T->all 10 LFW folds, cifar10->its test split",
                   choices=("auto", "synthetic", "lfw", "cifar10"))
    test_root: str = _f("", "test dataset root (default: data.root)")
    pairs: str = _f("", "pairs file: LFW pairs.txt or CSV path_a,path_b,same,fold (default: <test_root>/pairs.txt)")
    train_folds: str = _f("0-4", "LFW folds whose people train the model (lfw_people), e.g. '0-4' or '0,2,4'")
    min_images: int = _f(1, "minimum images per training identity", lo=1)
    limit: int = _f(0, "cap on training images, 0 = all (CPU-scale runs)", lo=0)
    val_fraction: float = _f(0.1, "fraction of training identities (faces) or images (CIFAR) held out for "
                             "validation; never the test protocol", lo=0.0, hi=0.5, lo_open=True)
    val_pairs: int = _f(600, "validation pairs drawn from the held-out identities", lo=2)
    image_size: int = _f(64, "input side in pixels after resizing", lo=16, hi=512)
    crop: float = _f(1.0, "central crop fraction of the source image before resizing", lo=0.1, hi=1.0, lo_open=True)
    color: str = _f("rgb", "colour mode", choices=("rgb", "gray"))
    cache_dir: str = _f("", "decoded-tensor cache directory (default: $FACEBENCH_CACHE or ~/.cache/facebench)")
    synthetic_identities: int = _f(48, "synthetic: number of identities", lo=4)
    synthetic_images: int = _f(8, "synthetic: images per identity", lo=2)
    synthetic_seed: int = _f(0, "synthetic: generator seed", lo=0)


@dataclass(frozen=True)
class ModelConfig:
    backbone: str = _f("resnet18", "backbone network", registry="backbone")
    width: float = _f(1.0, "channel width multiplier (ResNet/PlainNet/CNN/AE)", lo=0.0, hi=8.0, lo_open=True)
    stem: str = _f("cifar", "ResNet/PlainNet stem: imagenet = 7x7/2 + max-pool; cifar = 3x3/1, no pool; "
                   "stride2 = 3x3/2, no pool", choices=("imagenet", "cifar", "stride2"))
    neck: bool = _f(True, "face-embedding neck BN-dropout-FC-BN after pooling (False: pooled features are "
                    "the embedding)")
    embedding_size: Optional[int] = _f(None, "embedding size; for AE/VAE the latent size (default 512 with a "
                                       "neck, 128 for AE/VAE)", lo=1, hi=16384)
    dropout: float = _f(0.0, "dropout in the neck", lo=0.0, hi=1.0, hi_open=True)
    zero_init_residual: bool = _f(False, "zero-initialise the last BN of each residual branch")
    depth: int = _f(4, "AE/VAE: number of stride-2 conv blocks", lo=1, hi=6)
    noise: str = _f("gaussian", "denoising AE: corruption type", choices=("gaussian", "masking", "salt_pepper"))
    noise_level: Optional[float] = _f(None, "denoising AE: corruption level (default 0.1)", lo=0.0, hi=1.0)


@dataclass(frozen=True)
class LossConfig:
    name: str = _f("arcface", "loss / head", registry="loss")
    scale: Optional[float] = _f(None, "margin losses: logit scale s (default: the paper's)", lo=0.0, lo_open=True)
    margin: Optional[float] = _f(None, "margin losses: margin m (default: the paper's)", lo=0.0)
    h: Optional[float] = _f(None, "AdaFace: feature-norm concentration h (default 0.333)", lo=0.0, hi=1.0)
    t_alpha: Optional[float] = _f(None, "AdaFace/CurricularFace: EMA momentum (default 0.01)", lo=0.0, hi=1.0)
    beta: Optional[float] = _f(None, "VAE: KL weight beta (default 1.0)", lo=0.0)
    beta_warmup_epochs: int = _f(0, "VAE: epochs of linear beta warm-up from 0", lo=0)
    recon_reduction: str = _f("sum", "AE/VAE: MSE summed per image (then mean over batch) or mean per pixel",
                              choices=("sum", "mean"))


@dataclass(frozen=True)
class OptimConfig:
    name: str = _f("adamw", "optimizer", registry="optimizer")
    lr: float = _f(1e-3, "peak learning rate", lo=0.0, lo_open=True)
    weight_decay: float = _f(5e-4, "weight decay", lo=0.0)
    momentum: float = _f(0.9, "SGD momentum", lo=0.0, hi=1.0, hi_open=True, used_by=("optim.name", ("sgd",)))
    nesterov: bool = _f(False, "SGD Nesterov momentum", used_by=("optim.name", ("sgd",)))
    no_decay_norm_bias: bool = _f(True, "no weight decay on norm layers and biases")
    grad_clip: float = _f(0.0, "gradient-norm clipping threshold, 0 = off", lo=0.0)


@dataclass(frozen=True)
class ScheduleConfig:
    name: str = _f("cosine", "LR schedule", registry="scheduler")
    warmup_epochs: float = _f(0.0, "linear warm-up length in epochs (cosine, poly)", lo=0.0,
                              used_by=("schedule.name", ("cosine", "poly")))
    step_size: int = _f(10, "StepLR: epochs between decays", lo=1, used_by=("schedule.name", ("step",)))
    gamma: float = _f(0.1, "StepLR: decay factor", lo=0.0, hi=1.0, lo_open=True, used_by=("schedule.name", ("step",)))
    power: float = _f(1.0, "polynomial decay power", lo=0.0, lo_open=True, used_by=("schedule.name", ("poly",)))
    min_lr_ratio: float = _f(0.0, "final LR as a fraction of the peak (cosine, poly)", lo=0.0, hi=1.0,
                             used_by=("schedule.name", ("cosine", "poly")))
    pct_start: float = _f(0.3, "OneCycle: fraction of steps rising", lo=0.0, hi=1.0, lo_open=True, hi_open=True,
                          used_by=("schedule.name", ("onecycle",)))


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = _f(10, "training epochs", lo=1)
    batch_size: int = _f(64, "batch size", lo=1)
    seed: int = _f(0, "seed for Python, NumPy, torch and data order", lo=0)
    device: str = _f("auto", "training device", choices=("auto", "cpu", "cuda"))
    amp: str = _f("none", "autocast dtype (bf16/fp16 where the device supports it)", choices=("none", "bf16", "fp16"))
    channels_last: bool = _f(False, "channels_last memory format")
    compile: bool = _f(False, "torch.compile the model (no gain on CPU)")
    augment: str = _f("flip", "augmentation preset", registry="augmentation")
    max_steps: int = _f(0, "cap on optimizer steps per epoch, 0 = full epochs", lo=0)
    checkpoint: bool = _f(True, "write a resumable checkpoint every epoch")
    threads: int = _f(0, "torch intra-op threads, 0 = torch's default", lo=0)


@dataclass(frozen=True)
class EvalConfig:
    metric: str = _f("cosine", "verification score", choices=METRICS)
    normalize: bool = _f(False, "L2-normalise embeddings before scoring")
    flip: str = _f("none", "flip fusion of original and mirrored embeddings", choices=FLIPS)
    batch_size: int = _f(256, "embedding batch size", lo=1)


SECTIONS: dict[str, type] = {
    "data": DataConfig, "model": ModelConfig, "loss": LossConfig, "optim": OptimConfig,
    "schedule": ScheduleConfig, "train": TrainConfig, "eval": EvalConfig,
}
TOP_LEVEL = {"task": ("face", "task: face (identities -> verification), autoencoder (AE/DAE/VAE -> "
                      "verification) or cifar (classification)"),
             "name": ("", "free-text trial name")}


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
    def from_dict(cls, values: Mapping[str, Any] | None = None, *, validate_names: bool = True) -> "TrialConfig":
        """Build from a flat (``{"loss.margin": 0.5}``) or nested (``{"loss": {"margin": 0.5}}``) dict."""
        flat = flatten(values or {})
        top: dict[str, Any] = {}
        sections: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
        for key, value in flat.items():
            if key in TOP_LEVEL:
                top[key] = _coerce(key, str, value)
                continue
            section, _, name = key.partition(".")
            sections[section][name] = check_key(key, value)  # raises for an unknown section first
        cfg = cls(**top, **{s: SECTIONS[s](**v) for s, v in sections.items()})
        cfg.validate(validate_names=validate_names)
        return cfg

    @classmethod
    def from_file(cls, path: str | Path, overrides: list[str] | None = None, *,
                  validate_names: bool = True) -> "TrialConfig":
        return cls.from_dict({**load_file(path), **parse_overrides(overrides or [])}, validate_names=validate_names)

    def with_overrides(self, overrides: list[str] | Mapping[str, Any]) -> "TrialConfig":
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

    # -- validation ---------------------------------------------------------------------------
    def validate(self, *, validate_names: bool = True) -> None:
        if self.task not in TASKS:
            raise ConfigError(f"task: {self.task!r} is not allowed; choose one of: {', '.join(TASKS)}")
        if validate_names:
            from .registry import get_registry

            for section, cls in SECTIONS.items():
                for f in dataclasses.fields(cls):
                    if f.metadata.get("registry"):
                        get_registry(f.metadata["registry"]).get(getattr(getattr(self, section), f.name),
                                                                 key=f"{section}.{f.name}")
        _check_combinations(self)


def _check_combinations(cfg: TrialConfig) -> None:
    m, loss, d = cfg.model, cfg.loss, cfg.data
    ae = cfg.is_autoencoder
    if cfg.task == "autoencoder" and not ae:
        raise ConfigError(f"model.backbone: task 'autoencoder' needs one of {', '.join(AUTOENCODER_BACKBONES)}, "
                          f"got {m.backbone!r}")
    if loss.name in RECON_LOSSES:
        if cfg.task != "autoencoder":
            raise ConfigError(f"loss.name: {loss.name!r} is a reconstruction objective; it needs task "
                              f"'autoencoder' (task is {cfg.task!r})")
        if loss.name == "vae" and m.backbone != "vae":
            raise ConfigError(f"loss.name: 'vae' needs model.backbone 'vae', got {m.backbone!r}")
        if loss.name == "ae" and m.backbone == "vae":
            raise ConfigError("loss.name: model.backbone 'vae' needs loss 'vae' (its KL term)")
    elif cfg.task == "autoencoder":
        raise ConfigError(f"loss.name: task 'autoencoder' trains with 'vae' or 'ae', got {loss.name!r} "
                          "(an AE encoder with a margin head is task 'face' with backbone 'vae'/'ae')")
    unused: list[str] = []
    if loss.name not in MARGIN_LOSSES:
        unused += [k for k in ("scale", "margin") if getattr(loss, k) is not None]
    if loss.name != "adaface" and loss.h is not None:
        unused.append("h")
    if loss.name not in ("adaface", "curricularface") and loss.t_alpha is not None:
        unused.append("t_alpha")
    if loss.name != "vae" and (loss.beta is not None or loss.beta_warmup_epochs):
        unused += ["beta"] if loss.beta is not None else ["beta_warmup_epochs"]
    if unused:
        raise ConfigError(f"loss.{unused[0]} is not used by loss {loss.name!r}; remove it")
    if m.noise_level is not None and m.backbone != "dae":
        raise ConfigError(f"model.noise_level is only used by backbone 'dae', not {m.backbone!r}")
    if cfg.task == "cifar" and d.train not in ("cifar10", "synthetic"):
        raise ConfigError(f"data.train: task 'cifar' trains on 'cifar10' or 'synthetic', got {d.train!r}")
    if cfg.task != "cifar" and d.train == "cifar10":
        raise ConfigError(f"data.train: 'cifar10' is for task 'cifar', not {cfg.task!r}")
    if d.train not in ("synthetic",) and not d.root:
        raise ConfigError(f"data.root: dataset {d.train!r} needs a root directory (--set data.root=PATH)")
    _check_used_by(cfg)


def _check_used_by(cfg: TrialConfig) -> None:
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            if not f.metadata.get("used_by"):
                continue
            selector, variants = f.metadata["used_by"]
            chosen = cfg.get(selector)
            if chosen not in variants and getattr(getattr(cfg, section), f.name) != f.default:
                raise ConfigError(f"{section}.{f.name} is only used by {selector} {' or '.join(variants)}, "
                                  f"not {chosen!r}; remove it")


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
        for f in dataclasses.fields(cls):
            t = hints[f.name]
            tname = getattr(t, "__name__", None) or str(t).replace("typing.", "")
            doc = f.metadata["doc"]
            if f.metadata["choices"]:
                doc += f" ({'|'.join(f.metadata['choices'])})"
            rows.append((f"{section}.{f.name}", tname, repr(f.default), doc))
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


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _coerce(key: str, typ: Any, value: Any) -> Any:
    """Convert ``value`` (a string from --set, a number from Optuna, numpy scalars) to ``typ`` or raise."""
    optional = typing.get_origin(typ) is typing.Union and type(None) in typing.get_args(typ)
    if optional:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", "")):
            return None
        typ = next(t for t in typing.get_args(typ) if t is not type(None))
    bad = ConfigError(f"{key}: expected {typ.__name__}{' or none' if optional else ''}, got {value!r}")
    if typ is bool:
        if isinstance(value, bool) or (type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise bad
    if typ is int:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real) and float(value).is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise bad from None
        raise bad
    if typ is float:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, numbers.Real):
            out = float(value)
        elif isinstance(value, str):
            try:
                out = float(value.strip())
            except ValueError:
                raise bad from None
        else:
            raise bad
        if not math.isfinite(out):
            raise ConfigError(f"{key}: must be finite, got {value!r}")
        return out
    if typ is str:
        if not isinstance(value, str):
            raise bad
        return value
    raise TypeError(f"unsupported config type {typ}")


def check_key(key: str, value: Any) -> Any:
    """``value`` coerced to the type of section key ``key`` and checked against its choices and range."""
    section, _, name = key.partition(".")
    if section not in SECTIONS or not name:
        raise ConfigError(f"unknown config key {key!r}; keys are {', '.join(all_keys())}")
    fields = {f.name: f for f in dataclasses.fields(SECTIONS[section])}
    if name not in fields:
        raise ConfigError(f"unknown config key {key!r}; {section}.* keys are "
                          f"{', '.join(section + '.' + n for n in fields)}")
    return _check_field(key, fields[name], value)


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    # The annotations are strings (``from __future__ import annotations``); evaluate them once per section,
    # not once per key of every config built.
    return typing.get_type_hints(cls)


def _check_field(key: str, f: dataclasses.Field, value: Any) -> Any:
    section = key.split(".")[0]
    typ = _type_hints(SECTIONS[section])[f.name]
    value = _coerce(key, typ, value)
    meta = f.metadata
    if value is None:
        return value
    if meta["choices"] and value not in meta["choices"]:
        raise ConfigError(f"{key}: {value!r} is not allowed; choose one of: {', '.join(meta['choices'])}")
    lo, hi = meta["lo"], meta["hi"]
    below = lo is not None and (value < lo or (meta["lo_open"] and value == lo))
    above = hi is not None and (value > hi or (meta["hi_open"] and value == hi))
    if below or above:
        rng = (f"{'(' if meta['lo_open'] else '['}{lo}, {hi if hi is not None else 'inf'}"
               f"{')' if meta['hi_open'] or hi is None else ']'}")
        raise ConfigError(f"{key}: {value!r} is out of range; allowed {rng}")
    return value
