"""The one ``facebench`` entry point.

Subcommands live beside the code they drive (``facebench/<stage>/cli.py`` exposes ``add_parser``);
this module wires them together and holds the one error policy of every command (``run_command``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable

from .errors import user_error

# (module, subcommand) in the order `facebench --help` shows them.
_SUBCOMMANDS = (
    ("facebench.data.cli", "data"),
    ("facebench.engine.cli", "train"),
    ("facebench.engine.use_cli", "embed"),
    ("facebench.eval.cli", "eval"),
    ("facebench.deploy.cli", "export"),
    ("facebench.sweep.cli", "sweep"),
    ("facebench.report.cli", "report"),
)


def _cmd_list(args: argparse.Namespace) -> int:
    from .config import describe_keys
    from .registry import load_all

    if not (args.keys or args.complexity):  # --keys / --complexity show just what they name
        for kind, reg in sorted(load_all().items()):
            print(f"{kind}{'es' if kind.endswith('s') else 's'}:")
            for name in reg.names():
                print(f"  {name:<18} {reg.help(name)}")
            print()
    if args.keys:
        print("config keys (--set key=value):")
        for key, typ, default, doc in describe_keys():
            print(f"  {key:<28} {typ:<14} {default:<12} {doc}")
    if args.complexity:
        from .models.complexity import print_complexity_table

        print_complexity_table(image_size=args.image_size, num_classes=args.num_classes)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .cliflags import number, one_line_errors

    parser = one_line_errors(argparse.ArgumentParser(prog="facebench", description=__doc__.split("\n")[0]))
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the full traceback of an error (also of one raised inside a sweep file)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = one_line_errors(
        sub.add_parser("list", help="list every registry (datasets, backbones, losses, ...) and its names")
    )
    p.add_argument("--keys", action="store_true", help="list every config key with type, default and meaning instead")
    p.add_argument(
        "--complexity", action="store_true", help="list parameters, FLOPs and MACs of every backbone instead"
    )
    p.add_argument("--image-size", type=number(16, 512), default=32, help="input size for --complexity (default 32)")
    p.add_argument(
        "--num-classes", type=number(1, 10_000_000), default=10, help="classifier classes for --complexity (default 10)"
    )
    p.set_defaults(func=_cmd_list)
    for module, name in _SUBCOMMANDS:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if not e.name or not module.startswith(e.name):
                raise  # a real missing dependency, not a stage that is absent
            continue
        added = mod.add_parser(sub)
        if name == "eval":
            # ``eval model`` loads a trained model, which is engine work; the eval package stays arrays-in.
            importlib.import_module("facebench.engine.use_cli").add_eval_parser(added)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(args.func, args)


def run_command(func: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """The error policy of every command (``facebench ...`` and ``python sweeps/x.py``): a user error
    (``errors.user_error``: a FacebenchError, a disk or memory error) is one line on stderr and exit 2, Ctrl-C is
    exit 130 (with the command's ``on_interrupt`` hint), anything else is a bug and keeps its traceback;
    ``--debug`` shows the traceback of every error, a user error's cause included."""
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        hint = getattr(args, "on_interrupt", "")
        print(f"facebench: interrupted{'; ' + hint if hint else ''}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `facebench list | head`: the reader stopped reading, which is not an error; stdout goes to devnull
        # so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:  # noqa: BLE001 - user errors become one line; anything else keeps its traceback
        message = user_error(e)
        if message is None or getattr(args, "debug", False):
            raise
        print(f"facebench: error: {' '.join(message.splitlines())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
