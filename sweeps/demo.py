"""The embedded default: which margin loss works, on synthetic faces, in under three minutes on 2 CPU cores.

Synthetic identities (deterministic, no download; 48 identities x 8 images at 32 px; 3,000 person-disjoint test
pairs of 80 other identities in 10 folds of 300, so no fold is at chance by construction), a quarter-width
ResNet-18 or the baseline CNN, and CE / CosFace / ArcFace / AdaFace with their scale and margin searched by TPE.
Every trial runs all its epochs (FIFO) so the report compares finished models; selection is on held-out
training identities, the test pairs are touched once per trial. The sweep ends with a verdict: its top 2
configurations are re-run with 5 new seeds each and compared on the same test pairs (the confirmation stage;
single-seed differences inside the sweep are exploratory). This is what the README's main-job command runs;
the real sweeps are margin.py, vae.py and cifar.py.

    python sweeps/demo.py --local            # under 3 minutes, ends with runs/demo/report/index.html
    python sweeps/demo.py --smoke            # seconds: the test suite's version
"""

from facebench.sweep import SweepSpec, main, space
from facebench.sweep.presets import SMOKE_FACE

EPOCHS = 8
SPEC = SweepSpec(
    name="demo",
    task="face",
    base={
        "data.train": "synthetic",
        "data.synthetic_identities": 48,
        "data.synthetic_images": 8,
        "data.image_size": 32,
        "data.val_fraction": 0.25,
        "model.width": 0.25,
        "model.stem": "cifar",
        "train.epochs": EPOCHS,
        "train.threads": 1,
        "train.device": "cpu",
        "train.augment": "flip",
        "eval.batch_size": 128,
        "data.synthetic_test_identities": 80,
        "data.synthetic_test_pairs": 3000,
    },
    space=space.Margin(
        backbones=("resnet18", "cnn"),
        losses=("ce", "cosface", "arcface", "adaface"),
        optimizers=("adamw",),
        schedules=("cosine",),
        lr=(1e-3, 1e-2),
        batch_sizes=(32,),
        epochs=EPOCHS,
    ),
    num_samples=8,
    scheduler="fifo",
    cpus_per_trial=1,
    gpus_per_trial=0.0,
    confirm_top=2,
    confirm_seeds=5,
    equivalence_margin=0.02,  # the main job ends with a verdict
    smoke=SMOKE_FACE,
    smoke_num_samples=2,
    description="embedded default: backbone x margin loss on synthetic faces, CPU-sized",
)

if __name__ == "__main__":
    raise SystemExit(main(SPEC))
