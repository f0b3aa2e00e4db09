"""The papers' table (recipe x LFW / CFP-FP / AgeDB-30 / CALFW / CPLFW / mean) from per-set rows."""

from __future__ import annotations

import pandas as pd

from facebench.report.paper import paper_html, paper_markdown, paper_rows

SETS = pd.DataFrame(
    {
        "trial_id": ["a", "a", "b", "b", "a"],
        "set": ["cfp_fp", "lfw", "lfw", "cfp_fp", "extra"],
        "accuracy_mean": [0.9, 0.99, 0.98, 0.88, 0.5],
        "accuracy_std": [0.01, 0.002, 0.003, 0.02, 0.1],
    }
)
RANKED = pd.DataFrame(
    {
        "trial_id": ["b", "a", "c"],
        "name": ["", "r50 <arcface>", ""],
        "cfg.model.backbone": ["iresnet50", "x", "cnn"],
        "cfg.loss.name": ["cosface", "y", "ce"],
        "cfg.schedule.name": ["step", "z", "cosine"],
    }
)


def test_columns_in_paper_order_rows_in_ranking_and_mean_only_when_complete():
    columns, rows = paper_rows(SETS, RANKED)
    assert columns == ["lfw", "cfp_fp", "extra"]  # paper sets first, in the papers' order, then the rest
    assert [r["trial_id"] for r in rows] == ["b", "a"]  # ranking order; c has no set rows
    assert rows[0]["recipe"] == "IResNet-50 · CosFace · StepLR"  # the variants by their proper names
    assert rows[0]["extra"] is None and rows[0]["mean"] is None
    assert rows[1]["mean"] == (0.99 + 0.9 + 0.5) / 3


def test_markdown_and_html_cells_are_percent_plus_minus_std_and_escaped():
    columns, rows = paper_rows(SETS, RANKED)
    md = paper_markdown(columns, rows).splitlines()
    assert md[0] == "| recipe | LFW | CFP-FP | extra | mean |"
    assert md[2] == "| IResNet-50 · CosFace · StepLR | 98.00 ± 0.30 | 88.00 ± 2.00 | – | – |"
    assert md[3] == "| r50 <arcface> | 99.00 ± 0.20 | 90.00 ± 1.00 | 50.00 ± 10.00 | 79.67 |"
    page = paper_html(columns, rows)
    assert "r50 &lt;arcface&gt;" in page and "<arcface>" not in page
    assert paper_html(*paper_rows(SETS.iloc[:0], RANKED)).startswith('<p class="empty">')
