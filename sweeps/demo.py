"""The embedded default: which margin loss works, on synthetic faces, in about two minutes on 2 CPU cores.

Synthetic identities (deterministic, no download; 48 identities x 8 images at 32 px, person-disjoint test
pairs in 10 folds), a quarter-width ResNet-18 or the baseline CNN, and CE / CosFace / ArcFace / AdaFace
with their scale and margin searched by TPE. Every trial runs all its epochs (FIFO) so the report compares
finished models; selection is on held-out training identities, the test pairs are touched once per trial.
This is what the README's main-job command runs; the real sweeps are margin.py, vae.py and cifar.py.

    python sweeps/demo.py --local            # ~2 minutes, ends with runs/demo/report/index.html
    python sweeps/demo.py --smoke            # seconds: the test suite's version
"""

from facebench.sweep import SweepSpec, main, space
from facebench.sweep.presets import SMOKE_FACE

EPOCHS = 8
SPEC = SweepSpec(
    name="demo", task="face",
    base={"data.train": "synthetic", "data.synthetic_identities": 48, "data.synthetic_images": 8,
          "data.image_size": 32, "data.val_fraction": 0.25, "model.width": 0.25, "model.stem": "cifar",
          "train.epochs": EPOCHS, "train.threads": 1, "train.device": "cpu", "train.augment": "flip",
          "eval.batch_size": 128},
    space=space.Margin(backbones=("resnet18", "cnn"), losses=("ce", "cosface", "arcface", "adaface"),
                       optimizers=("adamw",), schedules=("cosine",), lr=(1e-3, 1e-2), batch_sizes=(32,),
                       epochs=EPOCHS),
    num_samples=10, scheduler="fifo", cpus_per_trial=1, gpus_per_trial=0.0,
    smoke=SMOKE_FACE, smoke_num_samples=2,
    description="embedded default: backbone x margin loss on synthetic faces, CPU-sized",
)

if __name__ == "__main__":
    raise SystemExit(main(SPEC))
