"""Reader for the IDX format of MNIST and Fashion-MNIST (LeCun et al., "THE MNIST DATABASE").

An IDX file starts with a 4-byte magic number: two zero bytes, a type code and the number of
dimensions ``k``; then ``k`` big-endian uint32 sizes; then the data in row-major order, big-endian.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from probflow.errors import DataFileError

_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(payload: bytes, *, source: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of one IDX file into an array of its declared type and shape."""
    if len(payload) < 4:
        raise DataFileError(f"{source}: {len(payload)} bytes is too short for an IDX header (4-byte magic number)")
    zero_high, zero_low, type_code, num_dims = payload[:4]
    if zero_high != 0 or zero_low != 0 or type_code not in _IDX_DTYPES:
        raise DataFileError(
            f"{source}: bad IDX magic number 0x{payload[:4].hex()}; expected 0x0000TTDD with type code TT in "
            f"{sorted(f'0x{code:02x}' for code in _IDX_DTYPES)} and DD the number of dimensions"
        )
    header_size = 4 + 4 * num_dims
    if len(payload) < header_size:
        raise DataFileError(
            f"{source}: header declares {num_dims} dimensions but the file ends after {len(payload)} bytes"
        )
    shape = tuple(int(size) for size in np.frombuffer(payload, dtype=">u4", count=num_dims, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(payload) - header_size
    if actual != expected:
        raise DataFileError(f"{source}: header shape {shape} of {dtype} needs {expected} data bytes, found {actual}")
    return np.frombuffer(payload, dtype=dtype, offset=header_size).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file, raw or gzip-compressed (detected from the gzip magic bytes, not the name)."""
    payload = Path(path).read_bytes()
    if payload[:2] == b"\x1f\x8b":
        payload = gzip.decompress(payload)
    return parse_idx(payload, source=str(path))
