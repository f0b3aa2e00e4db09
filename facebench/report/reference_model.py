"""``facebench report --reference-model LABEL=PATH``: a model judged outside the sweep (``facebench eval model
FILE.onnx --save DIR``) placed beside its trials as a reference score on the same pairs.

It becomes one more ``--reference`` (LABEL, test accuracy), so every place the report draws references shows it.
Reads only DIR/result.json (JSON); the number must be a finite accuracy in [0, 1].
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigError, DataError

KIND = "model-eval"  # what facebench.deploy.evaluate.save_result writes as result.json's "kind"


def parse_reference_models(values: Sequence[str] | None) -> list[tuple[str, float]]:
    out = []
    for text in values or []:
        label, sep, path = text.partition("=")
        if not sep or not label.strip() or not path.strip():
            raise ConfigError(
                f"--reference-model {text!r}: expected LABEL=PATH, PATH a folder written by "
                "`facebench eval model MODEL.onnx --save DIR` or its result.json"
            )
        out.append((label.strip(), _accuracy(Path(path.strip()))))
    return out


def _accuracy(path: Path) -> float:
    file = path / "result.json" if path.is_dir() else path
    try:
        res = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise DataError(f"{file}: not a readable result.json ({type(e).__name__})") from None
    rows = res.get("rows") if isinstance(res, dict) else None
    if not isinstance(res, dict) or res.get("kind") != KIND or not isinstance(rows, list) or len(rows) != 1:
        raise DataError(f"{file}: not a result of `facebench eval model MODEL.onnx --save` (one set)")
    value = rows[0].get("accuracy_mean") if isinstance(rows[0], dict) else None
    if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise DataError(f"{file}: accuracy_mean {value!r} is not an accuracy in [0, 1]")
    return float(value)
