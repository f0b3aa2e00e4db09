"""Command-line flags with ranges, for every subcommand: one helper, one wording, one line and exit 2.

``number(lo, hi)`` is an argparse ``type=`` that parses an int (or, with ``float``, a finite float) and
checks it against the interval a ``Param`` would (the same ``[lo, hi]`` text as a config key's error);
``one_line_errors(parser)`` makes argparse's own refusals (a bad number, a missing flag, ``--config`` given
twice) the CLI's single ``facebench: error: ...`` line with exit code 2, instead of a usage block.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from .errors import ConfigError
from .params import Param


def number(lo: float, hi: float, kind: type = int, *, lo_open: bool = False) -> Callable[[str], Any]:
    """An argparse ``type=``: ``kind`` (int or float) in ``[lo, hi]`` (``(lo, hi]`` when ``lo_open``)."""
    param = Param(kind(lo), "", type=kind, lo=lo, hi=hi, lo_open=lo_open)

    def parse(text: str) -> Any:
        try:
            return param.check("value", text)
        except ConfigError as e:
            raise argparse.ArgumentTypeError(str(e).removeprefix("value: ")) from None

    parse.__name__ = f"{kind.__name__} in {param.range_text()}"
    return parse


def one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make ``parser.error`` print one line (``facebench: error: argument --n-boot: 0 is out of range; allowed
    [1, 1000000]``) and exit 2; ``--help`` still shows the usage."""

    def error(message: str) -> NoReturn:
        print(f"facebench: error: {' '.join(message.split())}", file=sys.stderr)
        raise SystemExit(2)

    parser.error = error  # type: ignore[method-assign]
    return parser


class Once(argparse.Action):
    """A flag that may be given at most once (``--config``): a second one is refused, never silently used."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if getattr(namespace, self.dest, None) is not None:
            parser.error(
                f"{option_string} given twice ({getattr(namespace, self.dest)!r} and {values!r}); "
                f"give one {option_string} and override keys with --set"
            )
        setattr(namespace, self.dest, values)
