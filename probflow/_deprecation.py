"""Names that moved keep working: each old name warns once per process, then behaves as the new one."""

from __future__ import annotations

import warnings

_warned: set[str] = set()


def warn_once(key: str, message: str) -> None:
    """Issue a ``FutureWarning`` (shown by default) the first time ``key`` is used in this process."""
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, FutureWarning, stacklevel=3)
