"""The IDX reader: header parsing, raw and gzip files, and clear errors on malformed input."""

import gzip
import struct

import numpy as np
import pytest

from probflow.data import read_idx
from probflow.data.idx import parse_idx


def idx_bytes(array: np.ndarray, type_code: int) -> bytes:
    """An IDX file written from the format description, independently of the reader."""
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", size) for size in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trips_uint8_images_raw_and_gzip(tmp_path, compress):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    payload = idx_bytes(images, 0x08)
    path = tmp_path / "images"
    path.write_bytes(gzip.compress(payload) if compress else payload)
    np.testing.assert_array_equal(read_idx(path), images)


def test_parse_idx_decodes_big_endian_multibyte_types():
    values = np.array([[1.5, -2.25], [3.0, 1e10]], dtype=np.float64)
    np.testing.assert_array_equal(parse_idx(idx_bytes(values, 0x0E)), values)
    ints = np.array([-70000, 5, 2**30], dtype=np.int32)
    np.testing.assert_array_equal(parse_idx(idx_bytes(ints, 0x0C)), ints)


def test_parse_idx_rejects_bad_magic_number():
    payload = bytearray(idx_bytes(np.zeros(3, dtype=np.uint8), 0x08))
    payload[0] = 0x1F
    with pytest.raises(ValueError, match="bad IDX magic number 0x1f000801"):
        parse_idx(bytes(payload))


def test_parse_idx_rejects_unknown_type_code():
    with pytest.raises(ValueError, match="magic number 0x00000701"):
        parse_idx(bytes([0, 0, 0x07, 1]) + struct.pack(">I", 0))


def test_parse_idx_rejects_data_length_that_disagrees_with_header():
    payload = idx_bytes(np.zeros((2, 2), dtype=np.uint8), 0x08)
    with pytest.raises(ValueError, match=r"needs 4 data bytes, found 3"):
        parse_idx(payload[:-1])


def test_parse_idx_rejects_truncated_header():
    with pytest.raises(ValueError, match="declares 3 dimensions"):
        parse_idx(bytes([0, 0, 0x08, 3]) + struct.pack(">I", 1))
    with pytest.raises(ValueError, match="too short"):
        parse_idx(b"\x00\x00")
