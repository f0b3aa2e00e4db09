"""Backbone x margin loss x optimizer x LR schedule for face identities, judged by LFW verification.

Backbones resnet18/34/50, plainnet18 and the baseline cnn; losses ce, sphereface, cosface, arcface,
curricularface and adaface, each with its own scale/margin(/h) ranges; SGD or AdamW; step, OneCycle or
cosine with warm-up. Trains on the LFW people of folds 0-4 (or identity folders: ``--set``-free, edit
``data.train``/``data.root`` below) and verifies on folds 5-9. ``--smoke``: synthetic faces, tiny nets.

    python sweeps/margin.py --gpus-per-trial 0.5
    python sweeps/margin.py --smoke
"""

from functools import partial

from facebench.sweep import SweepSpec, main, space
from facebench.sweep.presets import SMOKE_FACE

EPOCHS = 20
SPEC = SweepSpec(
    name="margin", task="face",
    base={"data.train": "lfw_people", "data.root": "{data}/lfw", "data.train_folds": "0-4", "data.image_size": 112,
          "train.epochs": EPOCHS, "train.augment": "crop_flip", "eval.flip": "sum"},
    space=partial(space.margin, backbones=("resnet18", "resnet34", "resnet50", "plainnet18", "cnn"),
                  losses=("ce", "sphereface", "cosface", "arcface", "curricularface", "adaface"),
                  optimizers=("sgd", "adamw"), schedules=("step", "onecycle", "cosine"), epochs=EPOCHS, stem="imagenet"),
    num_samples=96, grace_period=2, cpus_per_trial=4, gpus_per_trial=0.5,
    smoke=SMOKE_FACE, smoke_num_samples=4,
    description="backbone x margin loss x optimizer x schedule on LFW people, verification on held-out folds",
)

if __name__ == "__main__":
    raise SystemExit(main(SPEC))
