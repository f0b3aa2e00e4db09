"""Intervals, the report's record and calibration on a real tiny sweep (real Ray, tiny models): each trial's objective_ci95 and
objective_pi95; the report's generated target lines, summary.json and decisions.npz beside the page and
``facebench report --check`` (passes, then names a changed number); the code version in sweep.json (a confirmation
under another one refused without --allow-version-change); ``confirm --calibrate`` writing ``calibration``."""

from __future__ import annotations

import html
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sweeps"))
pytestmark = pytest.mark.slow


def _rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_intervals_record_check_version_and_calibration(ray_local, tmp_path, capsys):
    import shutil

    import demo
    from statsmodels.stats.proportion import proportion_confint

    from facebench.cli import main as facebench
    from facebench.sweep import main

    assert main(demo.SPEC, ["--smoke", "--num-samples", "3", "--results", str(tmp_path), "--quiet", "--local"]) == 0
    sweep = tmp_path / "demo-smoke"
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["seed_variance"]["source"].startswith("stated default")
    for t in (t for t in summary["trials"] if t["status"] == "completed"):
        (clo, chi), (plo, phi) = t["objective_ci95"], t["objective_pi95"]
        assert plo < clo <= t["objective_config_mean"] <= chi < phi  # a new seed is less certain than the mean
        assert t["objective_se"] >= 0  # 0 is possible: a constant decider, every person one right, one wrong
    spec = json.loads((sweep / "sweep.json").read_text())
    assert spec["code_version"]["facebench"] and spec["code_versions"] == [spec["code_version"]]

    # --- the record beside the page, and --check
    out = tmp_path / "report"
    assert facebench(["report", str(sweep), "--out", str(out), "--target", "0.5"]) == 0
    record = json.loads((out / "summary.json").read_text())
    (entry,) = record["targets"]
    assert entry["verdict"] in ("met", "missed", "inconclusive") and entry["line"] in html.unescape(
        (out / "index.html").read_text()
    )
    lo, hi = entry["ci95"]
    assert entry["verdict"] == ("met" if lo >= 0.5 else "missed" if hi < 0.5 else "inconclusive")
    assert record["decisions"]["trials"] >= 3 and (out / "decisions.npz").stat().st_size == record["decisions"]["bytes"]
    capsys.readouterr()
    assert facebench(["report", "--check", str(out)]) == 0
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    _rewrite(bad / "index.html", f"scores {entry['value']:.4f}", f"scores {entry['value'] + 0.01:.4f}")
    assert facebench(["report", "--check", str(bad)]) == 1
    assert "the target line" in capsys.readouterr().err
    shutil.copy(out / "index.html", bad / "index.html")
    first = record["trials"][0]
    key = next(iter(first["test"]))
    _rewrite(bad / "summary.json", json.dumps(first["test"][key]), json.dumps(first["test"][key] + 0.01))
    assert facebench(["report", "--check", str(bad)]) == 1
    assert f"{first['trial_id']} {key}" in capsys.readouterr().err
    (bad / "summary.json").unlink()
    assert facebench(["report", "--check", str(bad)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1

    # --- another code version: refused, then allowed and recorded
    spec["code_version"] = spec["code_versions"][0] = {"facebench": "0.0.1", "git": "0" * 40}
    (sweep / "sweep.json").write_text(json.dumps(spec))
    assert facebench(["confirm", str(sweep), "--calibrate", "2", "--seeds", "2", "--local"]) == 2
    assert "--allow-version-change" in capsys.readouterr().err
    assert (
        facebench(
            [
                "confirm",
                str(sweep),
                "--calibrate",
                "2",
                "--seeds",
                "2",
                "--calibrate-seed",
                "7",
                "--local",
                "--quiet",
                "--allow-version-change",
            ]
        )
        == 0
    )
    assert len(json.loads((sweep / "sweep.json").read_text())["code_versions"]) == 2
    cal = json.loads((sweep / "summary.json").read_text())["calibration"]
    assert cal["n"] == len(cal["runs"]) == 4 and cal["rng_seed"] == 7 and len(set(cal["configurations"])) == 2
    pis = {t["trial_id"]: t["objective_pi95"] for t in summary["trials"] if "objective_pi95" in t}
    inside = [pis[r["source_trial_id"]][0] <= r["objective"] <= pis[r["source_trial_id"]][1] for r in cal["runs"]]
    assert cal["coverage"] == pytest.approx(sum(inside) / 4)
    assert cal["ci95"] == pytest.approx(list(proportion_confint(sum(inside), 4, method="wilson")))
    assert {r["seed"] for r in cal["runs"]}.isdisjoint(
        {json.loads((Path(t["trial_dir"]) / "config.json").read_text()).get("train.seed") for t in summary["trials"]}
    )

    # --- the page states the calibration, and --check recomputes it from the record
    out2 = tmp_path / "report2"
    assert facebench(["report", str(sweep), "--out", str(out2)]) == 0
    page = html.unescape((out2 / "index.html").read_text())
    assert f"{cal['inside']} of 4 new-seed objectives of 2 configurations" in page
    assert f"coverage {cal['coverage']:.3f}" in page
    capsys.readouterr()
    assert facebench(["report", "--check", str(out2)]) == 0
    record = json.loads((out2 / "summary.json").read_text())
    # flip one re-run from inside its interval to outside (or back): the stored coverage no longer recomputes
    record["calibration"]["runs"][0]["objective"] = (
        sum(pis[cal["runs"][0]["source_trial_id"]]) / 2 if not cal["runs"][0]["inside"] else 99.0
    )
    (out2 / "summary.json").write_text(json.dumps(record))
    assert facebench(["report", "--check", str(out2)]) == 1
    assert "calibration of demo-smoke" in capsys.readouterr().err
