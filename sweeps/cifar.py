"""The CIFAR-10 loss study's grid: (cnn, resnet18, resnet50, plainnet18) x (ce, arcface, curricularface, adaface).

Every cell of the grid runs once (Optuna's GridSampler), each loss at its published defaults; judged by
validation accuracy on held-out training images, then tested on the CIFAR-10 test split
(``--data-root``: the folder holding ``cifar10/``). ``--smoke``: synthetic images, tiny nets.

    python sweeps/cifar.py --gpus-per-trial 0.25
    python sweeps/cifar.py --smoke
    python sweeps/cifar.py --profile cpu --data-root ../shared/data --confirm 2 --seeds 5   # 2 CPUs

``--profile cpu``: the baseline CNN (full width) and ResNet-18 at width 0.25 with a stride-2 stem, each with CE,
ArcFace, CurricularFace and AdaFace (8 cells), trained 10 epochs on a 20,000-image subset of the training split.
"""

from functools import partial

from facebench.sweep import Profile, SweepSpec, main, space
from facebench.sweep.presets import SMOKE_CIFAR

GRID = {
    "model.backbone": ("cnn", "resnet18", "resnet50", "plainnet18"),
    "loss.name": ("ce", "arcface", "curricularface", "adaface"),
}
CPU_GRID = {"model.backbone": ("cnn", "resnet18"), "loss.name": GRID["loss.name"]}
CPU = Profile(
    base={"data.limit": 20000, "train.epochs": 10},
    space=partial(
        space.grid,
        axes=CPU_GRID,
        with_choice={"model.backbone": {"resnet18": {"model.width": 0.25, "model.stem": "stride2"}}},
    ),
    grid=CPU_GRID,
    num_samples=8,
    cpus_per_trial=1.0,
    gpus_per_trial=0.0,
    description="the CIFAR-10 loss study at CPU scale: baseline CNN and ResNet-18 x0.25 x four losses, "
    "10 epochs on 20,000 training images",
)
SPEC = SweepSpec(
    name="cifar",
    task="cifar",
    base={
        "data.train": "cifar10",
        "data.root": "{data}/cifar10",
        "data.image_size": 32,
        "model.stem": "cifar",
        "train.epochs": 30,
        "train.batch_size": 128,
        "train.augment": "crop_flip",
        "optim.name": "sgd",
        "optim.lr": 0.1,
        "optim.weight_decay": 5e-4,
        "schedule.name": "onecycle",
    },
    space=partial(space.grid, axes=GRID),
    sampler="grid",
    grid=GRID,
    scheduler="fifo",
    num_samples=16,
    cpus_per_trial=4,
    gpus_per_trial=0.25,
    smoke=SMOKE_CIFAR,
    smoke_num_samples=4,
    profiles={"cpu": CPU},
    description="the CIFAR-10 loss study: backbone x loss grid",
)

if __name__ == "__main__":
    raise SystemExit(main(SPEC))
