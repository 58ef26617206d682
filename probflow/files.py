"""Files that probflow writes: output paths checked before the work starts, and every write atomic.

**Atomic writes.** :func:`write_bytes`, :func:`write_text`, :func:`save_figure` and the context manager
:func:`replacing` (for libraries that write to a file name themselves, e.g. safetensors' ``save_file``) write
into a temporary file ``.<name>.<pid>-<random>.tmp`` in the target's folder, fsync it, ``os.replace`` it onto
the target (atomic on POSIX: a reader sees the old file or the new one, never a part) and fsync the folder,
so that the rename itself survives a power cut. A write that fails removes its temporary file; a process
killed mid-write (SIGKILL, power cut) leaves one behind, which never shadows the target and which
:func:`temporaries` finds for the owner to clean up. Missing parent folders are created. New files get the
usual permissions, ``0o666`` less the umask (safetensors and :mod:`tempfile` would make them ``0o600``).

**Checks.** :func:`check_output_file`, :func:`check_output_dir` and :func:`check_figure_file` raise
:class:`~probflow.errors.OutputPathError` naming the path and what is wrong (a folder where a file is meant
to go, a file where a folder is needed, a folder that cannot be written, an unknown image format), so a
command fails in its first second instead of after an hour of sampling or training.

**Locks.** :func:`exclusive_lock` holds ``fcntl.flock`` on a lock file for the duration of a block; the
kernel releases it when the holder dies, so a crash never leaves a folder locked.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from probflow.errors import OutputPathError
from probflow.extras import require

TEMPORARY_SUFFIX = ".tmp"
#: The name whose temporary files the write checks create and delete at once (a kill may leave one).
WRITE_CHECK = ".probflow-write-check"


def _temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMPORARY_SUFFIX}")


def _create(path: Path) -> int:
    """A new, empty file at ``path`` opened for writing, with mode ``0o666`` less the umask."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)


def _fsync(path: Path) -> None:
    """Flush ``path`` (a file's data, or a folder's entries) to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; when the block ends, whatever was written there replaces ``path``.

    For libraries that want a file name. The file is fsynced, given the mode that the umask allows and renamed
    onto ``path``; if the block raises, the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_name(path)
    descriptor = _create(temporary)
    mode = stat.S_IMODE(os.fstat(descriptor).st_mode)
    os.close(descriptor)
    try:
        yield temporary
        os.chmod(temporary, mode)  # the library may have recreated the file with its own mode
        _fsync(temporary)
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync(path.parent)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically (see the module docstring); returns ``path``."""
    path = Path(path)
    with replacing(path) as temporary:
        descriptor = os.open(temporary, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view):]
        finally:
            os.close(descriptor)
    return path


def write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Replace ``path`` with ``text`` atomically; returns ``path``."""
    return write_bytes(path, text.encode(encoding))


def save_figure(figure: Any, path: str | Path, **savefig_options: Any) -> Path:
    """``figure.savefig`` onto exactly ``path``, atomically, in the format of its suffix (PNG without one).

    matplotlib would append ``.png`` to a name without a suffix; here the file is always written where asked.
    """
    path = Path(path)
    with replacing(path) as temporary:
        figure.savefig(temporary, format=path.suffix[1:].lower() or "png", **savefig_options)
    return path


def temporaries(folder: str | Path, pattern: str) -> list[Path]:
    """The temporary files that writes onto ``folder/<pattern>`` (a glob) left behind, e.g. after a kill."""
    return sorted(Path(folder).glob(f".{pattern}.*{TEMPORARY_SUFFIX}"))


@contextmanager
def exclusive_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the file ``path`` (created if missing) for the duration of the block.

    Blocks until every other holder, in this or another process, has left; released when the block ends or the
    process dies. Needs a file system where ``flock`` works across processes (local ones, and NFS with locking).
    """
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing the only descriptor of this open file releases the lock


def _not_writable(folder: Path) -> str | None:
    """Why no file can be created in the existing folder ``folder``, or ``None`` if one can.

    Creating one is the only reliable test: ``os.access`` says yes to root on read-only mounts and in /proc.
    """
    probe = _temporary_name(folder / WRITE_CHECK)
    try:
        os.close(_create(probe))
    except OSError as exc:
        return exc.strerror or str(exc)
    with suppress(FileNotFoundError):
        os.unlink(probe)
    return None


def _check_folder(folder: Path, target: Path, label: str) -> None:
    """``target`` can go in ``folder``: its nearest existing ancestor (itself, if it exists) is a writable folder."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "" if existing == target else f"{existing} "
        raise OutputPathError(f"{label} {target}: {where}is a file, not a folder")
    reason = _not_writable(existing)
    if reason is not None:
        raise OutputPathError(f"{label} {target}: cannot write in {existing} ({reason})")


def check_output_dir(path: str | Path, label: str) -> Path:
    """``path`` as a folder that exists and can be written, or that can be created; else :class:`OutputPathError`.

    ``label`` names the path in the message (an option such as ``"--out"``, or ``"sample folder"``).
    """
    path = Path(path)
    _check_folder(path, path, label)
    return path


def check_output_file(path: str | Path, label: str) -> Path:
    """``path`` as a file that :func:`write_bytes` can create or replace; else :class:`OutputPathError`."""
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{label} {path}: is a folder; give a file name")
    _check_folder(path.parent, path, label)
    return path


def check_figure_file(path: str | Path, label: str) -> Path:
    """:func:`check_output_file`, and a suffix that names an image format matplotlib writes (or none: PNG)."""
    backend_bases = require("matplotlib.backend_bases", feature="writing a figure")
    path = check_output_file(path, label)
    formats = backend_bases.FigureCanvasBase.get_supported_filetypes()
    if path.suffix and path.suffix[1:].lower() not in formats:
        raise OutputPathError(f"{label} {path}: unknown image format {path.suffix!r}; use one of "
                              f"{', '.join('.' + name for name in sorted(formats))}")
    return path
