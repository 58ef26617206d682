"""Optional dependencies: the application half of probflow (plots, datasets, images) needs packages that the core
install leaves out. :func:`require` imports one, or says in one line what to ``pip install``."""

from __future__ import annotations

import importlib
from types import ModuleType

from probflow.errors import MissingDependencyError

#: Import name -> (the pip distribution, the probflow extra that installs it).
OPTIONAL = {
    "matplotlib": ("matplotlib", "apps"),
    "sklearn": ("scikit-learn", "apps"),
    "PIL": ("Pillow", "apps"),
    "diffusers": ("diffusers", "diffusers"),
}


#: The optional packages of the application: plots, the digits data set, PNG images.
APPS = ("matplotlib", "sklearn", "PIL")


def require_all(modules: tuple[str, ...], *, feature: str) -> None:
    """:func:`require` each of ``modules``: a command checks its extras before any work, not when it first plots."""
    for module in modules:
        require(module, feature=feature)


def require(module: str, *, feature: str) -> ModuleType:
    """``import module`` (a submodule of an optional package, e.g. ``"matplotlib.figure"``), or
    :class:`~probflow.errors.MissingDependencyError` naming the ``feature`` and the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = module.split(".")[0]
        if exc.name is None or exc.name.split(".")[0] != package or package not in OPTIONAL:
            raise
        distribution, extra = OPTIONAL[package]
        raise MissingDependencyError(f"{feature} needs {distribution}, which the core install leaves out: "
                                     f"pip install 'probflow[{extra}]'") from exc
