"""Tiny randomly initialised diffusers models, built from configs (nothing downloaded), for the integration tests;
no tests. Their images are noise-like: they test plumbing and numerical agreement, not image quality."""

from __future__ import annotations

from functools import cache

import pytest
import torch

diffusers = pytest.importorskip("diffusers")

@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """The models are tiny: intra-op threads only add overhead, and on a busy 2-core runner they made the tests 40x
    slower. Autouse in every module that imports it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


#: The class-conditional UNet's classes; label ``NULL_CLASS`` is the unconditional (null) one, as in DiT.
NUM_CLASSES = 4
NULL_CLASS = NUM_CLASSES
#: Text conditioning of the tiny UNet2DConditionModel: ``[batch, TOKENS, WIDTH]`` embeddings.
TOKENS, WIDTH = 3, 8


@cache
def unet(dtype: torch.dtype = torch.float32, *, num_class_embeds: int | None = None) -> torch.nn.Module:
    """A UNet2DModel on 1x8x8 images (``num_class_embeds`` makes it class-conditional)."""
    torch.manual_seed(0)
    model = diffusers.UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 16),
                                  layers_per_block=1, down_block_types=("DownBlock2D", "DownBlock2D"),
                                  up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4,
                                  num_class_embeds=num_class_embeds)
    return model.to(dtype).eval().requires_grad_(False)


@cache
def conditional_unet(dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    """A UNet2DConditionModel on 4x8x8 latents with cross-attention to ``[batch, TOKENS, WIDTH]`` embeddings."""
    torch.manual_seed(0)
    model = diffusers.UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4, block_out_channels=(8, 16),
                                           layers_per_block=1, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                           up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=WIDTH,
                                           attention_head_dim=2, norm_num_groups=4)
    return model.to(dtype).eval().requires_grad_(False)


@cache
def dit_transformer(dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    """A DiTTransformer2DModel on 4x8x8 latents, class-conditional (labels 0..999, 1000 the null class), predicting
    epsilon and a learned variance (8 output channels), as DiT does."""
    torch.manual_seed(0)
    model = diffusers.DiTTransformer2DModel(num_attention_heads=2, attention_head_dim=4, in_channels=4, out_channels=8,
                                            num_layers=1, sample_size=8, patch_size=2)
    return model.to(dtype).eval().requires_grad_(False)


def dit_pipeline(scheduler, dtype: torch.dtype = torch.float32):
    """A DiTPipeline around :func:`dit_transformer` and a tiny VAE (8x8 latents decode to 3x8x8 images)."""
    torch.manual_seed(0)
    vae = diffusers.AutoencoderKL(in_channels=3, out_channels=3, block_out_channels=(4,), latent_channels=4,
                                  down_block_types=("DownEncoderBlock2D",), up_block_types=("UpDecoderBlock2D",),
                                  norm_num_groups=2)
    pipe = diffusers.DiTPipeline(transformer=dit_transformer(dtype), vae=vae.to(dtype).eval(), scheduler=scheduler)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def ddpm_pipeline(scheduler, dtype: torch.dtype = torch.float32):
    """A DDPMPipeline around :func:`unet`."""
    pipe = diffusers.DDPMPipeline(unet=unet(dtype), scheduler=scheduler)
    pipe.set_progress_bar_config(disable=True)
    return pipe
