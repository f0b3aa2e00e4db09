"""A recipe is "the confirmed winner" only when every rival's generated verdict says the best beats it
(eval.confirmation.verdict, from the rival's side: "worse by ..."); a tie, an equivalence or an inconclusive
comparison leaves no winner."""

from __future__ import annotations

import pytest

from facebench.report.record import is_winner


def _conf(*verdicts: str) -> list[dict]:
    return [{"recipe": "CE", "best": True, "verdict": "reference"}] + [
        {"recipe": f"R{i}", "best": False, "verdict": v} for i, v in enumerate(verdicts)
    ]


@pytest.mark.parametrize(
    "verdicts,winner",
    [
        (["worse by 3.8 points (CI -4.6 to -3.1)"], True),
        (["worse by 3.8 points (CI -4.6 to -3.1)", "worse by 1.0 points (CI -1.9 to -0.2)"], True),
        (["worse by 3.8 points (CI -4.6 to -3.1)", "equivalent within ±2.0 points (CI -0.4 to +1.1)"], False),
        (["inconclusive: CI -4.6 to +2.4 is wider than the margin"], False),
        (["better by 2.0 points (CI 0.5 to 3.5)"], False),
        (["CE beats R0 (older record)"], True),
        ([], False),
    ],
)
def test_winner_only_when_every_rival_is_beaten(verdicts, winner):
    assert is_winner(_conf(*verdicts)) is winner


@pytest.mark.parametrize(
    "verdicts,label",
    [
        (["worse by 3.8 points (CI -4.6 to -3.1)"], "the confirmed winner"),
        (
            ["inconclusive: CI -4.6 to +2.4 is wider than the margin"],
            "the best by mean over new seeds (no winner: inconclusive against R0)",
        ),
        (
            ["worse by 3.8 points (CI -4.6 to -3.1)", "equivalent within ±2.0 points (CI -0.4 to +1.1)"],
            "the best by mean over new seeds (no winner: equivalent within the margin to R1)",
        ),
        (
            [
                "equivalent within ±2.0 points (CI -0.4 to +1.1)",
                "inconclusive: CI -4.6 to +2.4 is wider than the margin",
                "equivalent within ±2.0 points (CI -1.0 to +1.5)",
            ],
            "the best by mean over new seeds (no winner: equivalent within the margin to R0, R2; "
            "inconclusive against R1)",
        ),
        ([], "the best by mean over new seeds (no winner: no rival confirmed)"),
    ],
)
def test_the_label_is_no_stronger_than_the_rivals_verdicts(verdicts, label):
    """An inconclusive comparison is not a tie, and an equivalence is not a win: the label names which it is."""
    from facebench.report.record import winner_label

    assert winner_label(_conf(*verdicts)) == label
