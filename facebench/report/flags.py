"""Notes for trials trained under a flag that weakens their result: ``data.allow_test_images=true`` (a trial
that trained on images with the same pixels as its test images, facebench.data.overlap). One note per such
trial, naming it and how many test images it trained on; the ranked numbers are left as measured."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

ALLOW_TEST_IMAGES = "data.allow_test_images"


def trained_test_images(result: dict[str, Any] | None) -> int | None:
    """Test images (main test set and eval.sets) the trial trained on, from its result's data description; None
    when the result does not record it (an older trial, or one that failed before its data was read)."""
    data = (result or {}).get("data")
    if not isinstance(data, dict) or not isinstance(data.get("test_images_in_training"), int):
        return None
    sets = data.get("eval_set_images_in_training")
    extra = sum(v for v in sets.values() if isinstance(v, int)) if isinstance(sets, dict) else 0
    return data["test_images_in_training"] + extra


def allowed_test_image_notes(trials: Iterable[Any]) -> list[str]:
    """One note per trial whose config has ``data.allow_test_images=true``."""
    notes = []
    for t in trials:
        if t.config.get(ALLOW_TEST_IMAGES) is not True:
            continue
        n = trained_test_images(t.result)
        count = "an unrecorded number of" if n is None else f"{n}"
        notes.append(
            f"{t.sweep + '/' if t.sweep else ''}{t.trial_id}: trained with {ALLOW_TEST_IMAGES}=true on "
            f"{count} test image(s) (same pixels as images of its test sets); its test scores are not a "
            "clean estimate"
        )
    return notes
