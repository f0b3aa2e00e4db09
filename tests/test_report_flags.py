"""The report states ``data.allow_test_images``: a note naming each trial trained with it and how many test images
it trained on (facebench/report/flags.py); a trial without the flag gets no note."""

from __future__ import annotations

import html

from facebench.artefacts import TrialDir
from facebench.config import TrialConfig
from facebench.report import build_report
from facebench.report.flags import trained_test_images


def _trial(root, name: str, *, allow: bool, data: dict | None) -> None:
    flat = TrialConfig.from_dict({"data.allow_test_images": allow, "name": name}).to_flat()
    t = TrialDir(root / name)
    t.start(flat, {"trial_id": name})
    t.write_result(
        {
            "status": "completed",
            "reason": "",
            "config": flat,
            "meta": {"trial_id": name},
            "metrics": {"test_accuracy_mean": 0.75, "val_accuracy": 0.7, "objective": 0.7},
            **({"data": data} if data is not None else {}),
        }
    )


def test_a_trial_trained_on_test_images_is_named_with_its_count(tmp_path):
    runs = tmp_path / "runs"
    _trial(runs, "leaky", allow=True, data={"test_images_in_training": 2, "eval_set_images_in_training": {"agedb": 1}})
    _trial(runs, "clean", allow=False, data={"test_images_in_training": 0, "eval_set_images_in_training": {}})
    _trial(runs, "older", allow=True, data=None)
    index = build_report([runs / n for n in ("leaky", "clean", "older")], out=tmp_path / "report")
    page = html.unescape(index.read_text(encoding="utf-8"))
    assert "leaky: trained with data.allow_test_images=true on 3 test image(s)" in page
    assert "older: trained with data.allow_test_images=true on an unrecorded number of test image(s)" in page
    assert "clean: trained with" not in page


def test_count_known_answers():
    assert (
        trained_test_images({"data": {"test_images_in_training": 4, "eval_set_images_in_training": {"a": 1, "b": 2}}})
        == 7
    )
    assert trained_test_images({"data": {"test_images_in_training": 0}}) == 0
    assert trained_test_images(None) is None and trained_test_images({"data": {}}) is None
