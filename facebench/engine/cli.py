"""``facebench train``: one trial from a config file and ``--set`` overrides (argparse only at import)."""

from __future__ import annotations

import argparse
import signal
import threading

from ..cliflags import Once, one_line_errors


def add_parser(subparsers) -> None:
    p = one_line_errors(
        subparsers.add_parser(
            "train",
            help="train, validate and test one trial (no Ray)",
            description="Train one recipe, validate it every epoch, test the model chosen on validation, and write a "
            "trial directory.",
        )
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        action=Once,
        help="config file (.json, .yaml, .toml), flat or nested keys; at most one (a second is refused)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key, e.g. --set loss.name=cosface (repeatable; see `facebench list --keys`)",
    )
    p.add_argument("--out", metavar="DIR", help="trial directory (default runs/train/<name-or-task>-<config hash>)")
    p.add_argument(
        "--no-resume", action="store_true", help="start afresh even if DIR holds a checkpoint of the same config"
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a finished trial in DIR (of this or another config); without it that is refused",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    from ..config import TrialConfig, load_file, parse_overrides

    values = load_file(args.config) if args.config else {}  # before torch is imported: a bad file fails fast
    cfg = TrialConfig.from_dict({**values, **parse_overrides(args.overrides)})
    from .errors import OUT_OF_MEMORY, OutOfMemory
    from .record import default_trial_dir
    from .trial import run_trial

    out = args.out or str(default_trial_dir(cfg.to_flat()))
    bar = _Progress(cfg.train.epochs, enabled=not args.quiet)
    previous = _terminate_as_interrupt()
    try:
        result = run_trial(
            cfg, bar.report, trial_dir=out, resume=not args.no_resume, on_step=bar.step, overwrite=args.overwrite
        )
    finally:
        bar.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if result["status"] == "failed" and result.get("reason") == OUT_OF_MEMORY:
        raise OutOfMemory(
            f"{out}: out of memory while training (recorded as failed; resume continues from the last "
            f"epoch): reduce train.batch_size (now {cfg.train.batch_size}), data.image_size (now "
            f"{cfg.data.image_size}) or eval.batch_size (now {cfg.eval.batch_size})"
        )
    _print_result(result)
    return 0 if result["status"] in ("completed", "stopped") else 1


def _terminate_as_interrupt():
    """SIGTERM (a scheduler's or `kill`'s stop) ends the trial as Ctrl-C does: the CLI's one line and exit 130,
    the folder as an interrupt leaves it (the last epoch's checkpoint: resumable). The previous handler, to restore;
    None off the main thread, where Python cannot install one."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


class _Progress:
    """One tqdm bar per epoch over its steps; the epoch's metrics go in the postfix when it ends."""

    def __init__(self, epochs: int, *, enabled: bool) -> None:
        self.epochs, self.enabled, self.bar = epochs, enabled, None

    def step(self, epoch: int, step: int, steps: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{self.epochs}", unit="step", leave=True)
        self.bar.update(1)

    def report(self, metrics: dict) -> None:
        keys = ("train_loss", "val_accuracy", "val_auc", "objective", "lr", "images_per_s")
        shown = {k: f"{metrics[k]:.4g}" for k in keys if isinstance(metrics.get(k), (int, float))}
        if self.bar is not None:
            self.bar.set_postfix(shown)
            self.close()
        elif self.enabled:
            print(f"epoch {metrics['epoch']}/{self.epochs} " + " ".join(f"{k}={v}" for k, v in shown.items()))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _print_result(result: dict) -> None:
    print(
        f"\ntrial {result.get('trial_dir')}: {result['status']}"
        + (f" ({result['reason']})" if result.get("reason") else "")
    )
    metrics = result.get("metrics") or {}
    unresolved = _unresolved_fars(result.get("trial_dir"))
    width = max((len(k) for k in metrics), default=0)
    for key in sorted(metrics):
        value = metrics[key]
        text = f"{value:.4f}" if isinstance(value, float) else str(value)
        flag = (
            "  (unresolved: too few negatives per fold)"
            if key.startswith("test_tar_far_") and (key[len("test_tar_far_") :] in unresolved)
            else ""
        )
        print(f"  {key:<{width}}  {text}{flag}")


def _unresolved_fars(trial_dir: str | None) -> set[str]:
    """The FARs (``1e-3``) of the test protocol that a fold's negatives cannot resolve (verification.json), flagged
    as ``facebench eval pairs`` flags them."""
    import json
    from pathlib import Path

    from ..artefacts import ARTEFACTS
    from ..eval.curves import far_key

    path = Path(trial_dir or "") / ARTEFACTS / "verification.json"
    try:
        rows = json.loads(path.read_text(encoding="utf-8")).get("tar_at_far") or []
    except (OSError, ValueError, AttributeError):
        return set()
    return {far_key(r["far"]) for r in rows if isinstance(r, dict) and r.get("unresolved")}
