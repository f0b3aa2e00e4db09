"""Convolutional AE, denoising AE and VAE (the VAE face-verification study).

Encoder: ``model.depth`` blocks of 3x3 stride-2 conv + BN + LeakyReLU(0.2); channels 32*width, doubling
per block, capped at 512*width; a linear layer to the latent (the VAE has two: mu and log sigma^2).
Decoder: a linear layer back to the last feature map, then the mirrored 3x3 stride-2 transposed convs
and a Tanh, so reconstructions live in the [-1, 1] range of ``facebench.data.transforms.to_input``.
A stride-2 conv rounds odd sizes up, so the decoder's map can exceed the input (e.g. 56 px at depth 4:
56 -> 4 -> 64); the top-left crop back to the input size undoes exactly the padding the encoder added.
"""

from __future__ import annotations

import torch
from torch import nn

from .common import scaled

DEFAULT_LATENT = 128  # the VAE face-verification study's latent size
LEAKY_SLOPE = 0.2  # DCGAN's slope, the usual choice for conv AEs


def _channels(depth: int, width: float) -> list[int]:
    cap = scaled(512, width)
    return [min(scaled(32 * 2**i, width), cap) for i in range(depth)]


def _encoded_side(side: int, depth: int) -> int:
    for _ in range(depth):
        side = (side - 1) // 2 + 1  # 3x3, stride 2, padding 1
    return side


class ConvEncoder(nn.Module):
    """Image -> latent. ``forward``/``encode`` give the embedding (mu for the VAE); ``stats`` gives (mu, logvar)."""

    is_autoencoder = False

    def __init__(
        self, *, in_channels: int, image_size: int, depth: int, width: float, latent: int, variational: bool
    ) -> None:
        super().__init__()
        self.in_channels, self.image_size = in_channels, image_size
        self.channels = _channels(depth, width)
        self.side = _encoded_side(image_size, depth)
        layers: list[nn.Module] = []
        c = in_channels
        for c_out in self.channels:
            layers += [nn.Conv2d(c, c_out, 3, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(LEAKY_SLOPE)]
            c = c_out
        self.conv = nn.Sequential(*layers, nn.Flatten(1))
        flat = c * self.side * self.side
        self.mu = nn.Linear(flat, latent)
        self.logvar = nn.Linear(flat, latent) if variational else None
        self.embedding_size = latent

    def stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.conv(x)
        return self.mu(h), (self.logvar(h) if self.logvar is not None else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stats(x)[0]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)


class ConvDecoder(nn.Module):
    def __init__(self, *, out_channels: int, image_size: int, channels: list[int], side: int, latent: int) -> None:
        super().__init__()
        self.image_size = image_size
        self.shape = (channels[-1], side, side)
        self.fc = nn.Linear(latent, channels[-1] * side * side)
        layers: list[nn.Module] = []
        for c_in, c_out in zip(channels[::-1], channels[-2::-1]):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.LeakyReLU(LEAKY_SLOPE),
            ]
        layers.append(nn.ConvTranspose2d(channels[0], out_channels, 3, 2, 1, output_padding=1))
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.deconv(self.fc(z).view(-1, *self.shape))
        return torch.tanh(x[..., : self.image_size, : self.image_size])


def corrupt(x: torch.Tensor, *, kind: str, level: float) -> torch.Tensor:
    """Denoising-AE corruption in the [-1, 1] input range (Vincent et al., 2008/2010).

    gaussian: add N(0, level^2) noise, clamp to [-1, 1]; masking: each value set to -1 (black) with
    probability ``level``; salt_pepper: each value set to -1 or +1 (equally likely) with probability ``level``.
    """
    if kind == "gaussian":
        return (x + level * torch.randn_like(x)).clamp(-1.0, 1.0)
    hit = torch.rand_like(x) < level
    if kind == "masking":
        return x.masked_fill(hit, -1.0)
    if kind == "salt_pepper":
        salt = torch.where(torch.rand_like(x) < 0.5, 1.0, -1.0).to(x.dtype)
        return torch.where(hit, salt, x)
    raise ValueError(f"unknown corruption {kind!r}")


class AutoEncoder(nn.Module):
    """AE / DAE / VAE. ``forward`` returns the dict of the contract; ``encode`` the embedding (mu for the VAE)."""

    is_autoencoder = True

    def __init__(self, encoder: ConvEncoder, *, noise: str | None = None, noise_level: float = 0.0) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = ConvDecoder(
            out_channels=encoder.in_channels,
            image_size=encoder.image_size,
            channels=encoder.channels,
            side=encoder.side,
            latent=encoder.embedding_size,
        )
        self.variational = encoder.logvar is not None
        self.noise, self.noise_level = noise, noise_level
        self.embedding_size = encoder.embedding_size

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        inp = corrupt(x, kind=self.noise, level=self.noise_level) if self.noise and self.training else x
        mu, logvar = self.encoder.stats(inp)
        if not self.variational:
            return {"embedding": mu, "recon": self.decoder(mu), "target": x}
        z = mu
        if self.training:  # reparameterisation (Kingma & Welling, 2014); the mean at eval
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return {"embedding": mu, "recon": self.decoder(z), "mu": mu, "logvar": logvar, "target": x}


def build_autoencoder(
    *,
    variant: str,
    decoder: bool,
    input_size: tuple[int, int, int],
    width: float,
    depth: int,
    embedding_size: int | None,
    **corruption: object,
) -> nn.Module:
    """AE / DAE / VAE (``variant``) for (C, H, W) ``input_size``; the other keyword arguments are the declared
    model.* keys, ``corruption`` the DAE's (``noise``, ``noise_level``: declared for the autoencoder task only).

    Without ``decoder`` (an AE encoder feeding a margin head) only the encoder is built and trained, as an
    embedding network; reconstruction has no classifier.
    """
    in_channels, image_size, _ = input_size
    # The encoder is built before the decoder, as the seeds' weights have always been drawn.
    encoder = ConvEncoder(
        in_channels=in_channels,
        image_size=image_size,
        depth=depth,
        width=width,
        latent=embedding_size or DEFAULT_LATENT,
        variational=variant == "vae",
    )
    if not decoder:
        return encoder
    return AutoEncoder(encoder, **(corruption if variant == "dae" else {}))
