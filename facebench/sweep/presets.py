"""Config keys that ``--smoke`` forces over a sweep: synthetic data and tiny models, about a minute on 2 CPUs.

They win over the searched values too (``SweepSpec.forced``), so a smoke run exercises the real space,
scheduler, study and report with every trial small.
"""

from __future__ import annotations

# 16 synthetic identities x 4 images at 32 px, quarter-width networks, 2 epochs, one thread per trial.
SMOKE_DATA = {
    "data.train": "synthetic",
    "data.root": "",
    "data.test": "auto",
    "data.test_root": "",
    "data.pairs": "",
    "data.synthetic_identities": 16,
    "data.synthetic_images": 4,
    "data.image_size": 32,
    "data.val_pairs": 40,
    "data.limit": 0,
}
SMOKE_TRAIN = {
    "train.epochs": 2,
    "train.batch_size": 32,
    "train.threads": 1,
    "train.device": "cpu",
    "eval.batch_size": 64,
    "model.width": 0.25,
}

SMOKE_FACE = {**SMOKE_DATA, **SMOKE_TRAIN, "model.stem": "cifar", "eval.flip": "none", "train.augment": "flip"}
SMOKE_AUTOENCODER = {**SMOKE_DATA, **SMOKE_TRAIN}
SMOKE_CIFAR = {
    **SMOKE_DATA,
    **SMOKE_TRAIN,
    "model.stem": "cifar",
    "train.augment": "flip",
    "optim.lr": 0.05,
    "data.synthetic_images": 12,
}  # 10 classes x 12: enough for the smoke to leave chance
