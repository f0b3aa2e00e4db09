"""Backbone x margin loss x optimizer x LR schedule for face identities, judged by LFW verification.

Backbones resnet18/34/50, plainnet18 and the baseline cnn; losses ce, sphereface, cosface, arcface,
curricularface and adaface, each with its own scale/margin(/h) ranges; SGD or AdamW; step, OneCycle or
cosine with warm-up. Trains on the LFW people of folds 0-4 (or identity folders: ``--set``-free, edit
``data.train``/``data.root`` below) and verifies on folds 5-9. ``--smoke``: synthetic faces, tiny nets.

``--profile cpu``: the same question sized for 2 CPU cores (32 px, a 0.6 central crop, the baseline CNN at width
0.5/1, ResNet-18 and PlainNet-18 at width 0.25/0.5 with a stride-2 stem, 24 epochs, 32 trials, scale and margin
ranges narrowed below the papers' s=64, m=0.5, which this profile does not test; reports/margin's budget line
gives its wall time).

    python sweeps/margin.py --gpus-per-trial 0.5
    python sweeps/margin.py --profile cpu --data-root ../shared/data --confirm 2 --seeds 5
    python sweeps/margin.py --smoke
"""

from facebench.sweep import Profile, SweepSpec, main, space
from facebench.sweep.presets import SMOKE_FACE

EPOCHS = 20
CPU_EPOCHS = 24
LOSSES = ("ce", "sphereface", "cosface", "arcface", "curricularface", "adaface")
# (low, high, log) per loss at CPU scale: narrowed below the papers' s=64, m=0.5 for a 24-epoch small net; no
# trial of this profile tests the papers' values.
CPU_LOSS_RANGES = {
    "sphereface": {"scale": (16.0, 64.0, True), "margin": (1.1, 1.7, False)},
    "cosface": {"scale": (16.0, 64.0, True), "margin": (0.05, 0.35, False)},
    "arcface": {"scale": (16.0, 64.0, True), "margin": (0.1, 0.4, False)},
    "curricularface": {"scale": (16.0, 64.0, True), "margin": (0.1, 0.4, False)},
    "adaface": {"scale": (16.0, 64.0, True), "margin": (0.1, 0.4, False), "h": (0.2, 0.5, False)},
}
CPU = Profile(
    base={"data.image_size": 32, "data.crop": 0.6, "data.min_images": 2, "train.epochs": CPU_EPOCHS},
    space=space.Margin(
        backbones=("cnn", "resnet18", "plainnet18"),
        losses=LOSSES,
        optimizers=("sgd", "adamw"),
        schedules=("step", "onecycle", "cosine"),
        epochs=CPU_EPOCHS,
        stem="stride2",
        widths={"cnn": (0.5, 1.0), "resnet18": (0.25, 0.5), "plainnet18": (0.25, 0.5)},
        loss_ranges=CPU_LOSS_RANGES,
        batch_sizes=(64, 128),
    ),
    num_samples=32,
    grace_period=4,
    cpus_per_trial=1.0,
    gpus_per_trial=0.0,
    cover=True,
    description="backbone x margin loss x optimizer x schedule on LFW people at CPU scale (32 px, small "
    "widths), verification on held-out folds",
)
SPEC = SweepSpec(
    name="margin",
    task="face",
    base={
        "data.train": "lfw_people",
        "data.root": "{data}/lfw",
        "data.train_folds": "0-4",
        "data.image_size": 112,
        "train.epochs": EPOCHS,
        "train.augment": "crop_flip",
        "eval.flip": "sum",
    },
    space=space.Margin(
        backbones=("resnet18", "resnet34", "resnet50", "plainnet18", "cnn"),
        losses=LOSSES,
        optimizers=("sgd", "adamw"),
        schedules=("step", "onecycle", "cosine"),
        epochs=EPOCHS,
        stem="imagenet",
    ),
    num_samples=96,
    grace_period=2,
    cpus_per_trial=4,
    gpus_per_trial=0.5,
    smoke=SMOKE_FACE,
    smoke_num_samples=4,
    profiles={"cpu": CPU},
    description="backbone x margin loss x optimizer x schedule on LFW people, verification on held-out folds",
)

if __name__ == "__main__":
    raise SystemExit(main(SPEC))
