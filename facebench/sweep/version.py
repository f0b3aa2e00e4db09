"""The code version a sweep ran under (docs/sweeps.md, "Code version"): recorded in sweep.json, checked before a
resume, a confirmation or a calibration adds trials, so one sweep's numbers come from one code state unless the
user says otherwise (``--allow-version-change``, which records the new version beside the first)."""

from __future__ import annotations

from typing import Any

from ..artefacts import SweepDir
from ..errors import ConfigError


def code_version() -> dict[str, Any]:
    """{"facebench": the package version, "git": the checkout's revision (``+dirty`` with local changes) or None}."""
    from .. import __version__
    from ..engine.record import git_revision

    return {"facebench": __version__, "git": git_revision()}


def _shown(v: dict[str, Any]) -> str:
    return f"facebench {v.get('facebench')} at {v.get('git') or 'no git revision'}"


def check_version(sweep: SweepDir, *, allow: bool, what: str) -> None:
    """Refuse ``what`` ("--resume", "confirm") under a code version other than the one sweep.json recorded, unless
    ``allow``; then add the current version to sweep.json's ``code_versions``. A sweep.json written before versions
    were recorded gets the current one without a check (nothing to compare)."""
    spec = sweep.read_spec()
    if spec is None:
        return
    now = code_version()
    then = spec.get("code_version")
    if isinstance(then, dict) and then != now and not allow:
        raise ConfigError(
            f"{what}: sweep {spec.get('name')!r} ran under {_shown(then)}, this is {_shown(now)}; "
            "its numbers would mix two code states. Pass --allow-version-change to go on (the report "
            "then lists both)"
        )
    versions = [v for v in spec.get("code_versions") or ([then] if isinstance(then, dict) else []) if v]
    if now not in versions:
        sweep.write_spec(
            {**spec, "code_version": then if isinstance(then, dict) else now, "code_versions": [*versions, now]}
        )
