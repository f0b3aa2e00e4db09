"""VAE / AE / denoising-AE encoders as face embeddings, judged by LFW verification of the latent mean.

Searched: encoder family (ae, dae, vae), latent size, beta (log scale, VAE only) and its warm-up, input
size (112, 64, 56, 32), LR, batch size, weight decay, LR schedule. Trains on the LFW people of folds 0-4
and is tested on folds 5-9 (``--data-root``: the folder holding ``lfw/``). ``--smoke``: synthetic faces.

    python sweeps/vae.py --gpus-per-trial 0.25          # the real sweep, one GPU shared by 4 trials
    python sweeps/vae.py --smoke                        # about a minute on 2 CPU cores
"""

from functools import partial

from facebench.sweep import SweepSpec, main, space
from facebench.sweep.presets import SMOKE_AUTOENCODER

EPOCHS = 30
SPEC = SweepSpec(
    name="vae", task="autoencoder",
    base={"data.train": "lfw_people", "data.root": "{data}/lfw", "data.train_folds": "0-4",
          "train.epochs": EPOCHS, "train.augment": "flip", "model.depth": 4, "eval.metric": "cosine"},
    space=partial(space.vae, epochs=EPOCHS),
    num_samples=64, grace_period=3, cpus_per_trial=4, gpus_per_trial=0.25,
    smoke=SMOKE_AUTOENCODER, smoke_num_samples=4,
    description="AE/DAE/VAE latent size x beta x image size on LFW people, verification on held-out folds",
)

if __name__ == "__main__":
    raise SystemExit(main(SPEC))
