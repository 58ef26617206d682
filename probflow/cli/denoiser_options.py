"""The options that pick a denoiser, shared by the commands that sample from one: ``--model NAME`` (a shipped
model), ``--denoiser MODULE:ATTR`` (your own ``D(x, sigma)``) and ``--shape C,H,W``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from probflow.errors import CommandError

DENOISER_HELP = ("your denoiser D(x, sigma), imported from MODULE (a module in the current folder is found, as "
                 "under python -m)")


def add_denoiser_options(parser: argparse.ArgumentParser) -> None:
    """``--model`` / ``--denoiser`` (one of them) and ``--shape``."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", default="digits-edm",
                        help="a shipped model, or a .safetensors file that probflow train wrote (default: digits-edm)")
    source.add_argument("--denoiser", metavar="MODULE:ATTR", help=DENOISER_HELP)
    parser.add_argument("--shape", metavar="C,H,W", help="one sample's shape (needed unless the denoiser has .shape)")


def resolve_denoiser(args: argparse.Namespace) -> tuple[Callable, str]:
    """The denoiser the options name, and its label."""
    if args.denoiser is not None:
        return import_object(args.denoiser), args.denoiser
    from probflow import pretrained

    if pretrained.is_weights_file(args.model):
        return pretrained.load(args.model), Path(args.model).stem
    if args.model not in pretrained.available():
        raise CommandError(f"unknown model {args.model!r}; shipped: {', '.join(pretrained.available())} (or the "
                           f"path of a .safetensors file written by probflow train)")
    if not pretrained.weights_path(args.model).is_file():
        raise CommandError(f"the weights of {args.model!r} are missing: {pretrained.weights_path(args.model)}")
    return pretrained.load(args.model), args.model


def sample_shape(args: argparse.Namespace, denoiser: Callable) -> tuple[int, ...]:
    """``--shape``, else the denoiser's ``.shape``."""
    if args.shape is not None:
        return parse_shape(args.shape)
    shape = getattr(denoiser, "shape", None)
    if shape is None:
        raise CommandError("the shape of one sample is unknown: pass --shape C,H,W (the denoiser has no .shape)")
    return tuple(shape)


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,8,8"`` -> ``(1, 8, 8)``."""
    try:
        shape = tuple(int(size) for size in text.split(","))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise CommandError(f"--shape must be positive integers like 1,8,8, got {text!r}")
    return shape


def import_object(spec: str) -> Callable:
    """``"package.module:attr.sub"`` -> that object, which must be callable. The current folder is searched first,
    as ``python -m`` does, so ``--denoiser mymodel:D`` finds ``./mymodel.py``."""
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise CommandError(f"--denoiser must look like module:attr, got {spec!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise CommandError(f"cannot import module {module_name!r} for --denoiser ({exc}); it must be importable "
                           f"from the current folder or an installed package") from exc
    for name in attribute.split("."):
        if not hasattr(target, name):
            raise CommandError(f"--denoiser {spec}: {module_name} has no attribute {attribute!r}")
        target = getattr(target, name)
    if not callable(target):
        raise CommandError(f"{spec} is a {type(target).__name__}, not a denoiser D(x, sigma)")
    return target
