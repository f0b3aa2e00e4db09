"""VAE / AE / denoising-AE encoders as face embeddings, judged by LFW verification of the latent mean.

Searched: encoder family (ae, dae, vae), latent size, beta (log scale, VAE only) and its warm-up, input
size (112, 64, 56, 32), LR, batch size, weight decay, LR schedule. Trains on the LFW people of folds 0-4
and is tested on folds 5-9 (``--data-root``: the folder holding ``lfw/``). ``--smoke``: synthetic faces.

    python sweeps/vae.py --gpus-per-trial 0.25          # the real sweep, one GPU shared by 4 trials
    python sweeps/vae.py --smoke                        # about a minute on 2 CPU cores
    python sweeps/vae.py --profile cpu --data-root ../shared/data --confirm 2 --seeds 5   # 2 CPUs

``--profile cpu``: width 0.5 encoders on a 0.5 central crop at 64 or 32 px (the "halve the input" question), 20
epochs, 24 trials, flip-fused cosine scores of the latent mean, read as is or PCA-whitened (``eval.whiten`` 0 or
64, fitted on the training images' latents: the eigenfaces floor's treatment).
"""

from facebench.sweep import Profile, SweepSpec, main, space
from facebench.sweep.presets import SMOKE_AUTOENCODER

EPOCHS = 30
CPU_EPOCHS = 20
CPU = Profile(
    base={
        "data.image_size": 64,
        "data.crop": 0.5,
        "data.min_images": 2,
        "model.width": 0.5,
        "train.epochs": CPU_EPOCHS,
        "eval.flip": "sum",
    },
    space=space.VAE(
        latent_sizes=(32, 64, 128, 256),
        image_sizes=(64, 32),
        beta=(0.05, 4.0),
        lr=(3e-4, 3e-3),
        batch_sizes=(32, 64, 128),
        epochs=CPU_EPOCHS,
        whiten=(0, 64),
    ),
    num_samples=24,
    grace_period=4,
    cpus_per_trial=1.0,
    gpus_per_trial=0.0,
    cover=True,
    description="AE/DAE/VAE latent size x beta x input size (64 or 32 px) on LFW people at CPU scale, "
    "verification on held-out folds",
)
SPEC = SweepSpec(
    name="vae",
    task="autoencoder",
    base={
        "data.train": "lfw_people",
        "data.root": "{data}/lfw",
        "data.train_folds": "0-4",
        "train.epochs": EPOCHS,
        "train.augment": "flip",
        "model.depth": 4,
        "eval.metric": "cosine",
    },
    space=space.VAE(epochs=EPOCHS),
    num_samples=64,
    grace_period=3,
    cpus_per_trial=4,
    gpus_per_trial=0.25,
    smoke=SMOKE_AUTOENCODER,
    smoke_num_samples=4,
    profiles={"cpu": CPU},
    description="AE/DAE/VAE latent size x beta x image size on LFW people, verification on held-out folds",
)

if __name__ == "__main__":
    raise SystemExit(main(SPEC))
