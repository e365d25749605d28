"""CRC-32C (Castagnoli) as TFRecord uses it, computed for many records at once with numpy.

TensorBoard event files carry a masked CRC-32C of every record's length and payload. A
byte-at-a-time Python loop costs microseconds per record; here a block of records is
checked together, one numpy table step per byte column, so the check costs little next to
parsing the protobufs.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

U32 = npt.NDArray[np.uint32]


def _table() -> U32:
    poly = 0x82F63B78
    t = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        t[i] = c
    return t


TABLE = _table()
_TABLE_LIST = [int(x) for x in TABLE]


def crc32c(data: bytes) -> int:
    """CRC-32C of one byte string (plain Python; for the odd long record)."""
    crc = 0xFFFFFFFF
    t = _TABLE_LIST
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def mask(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    return mask(crc32c(data))


def masked_crc32c_many(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> U32:
    """Masked CRC-32C of ``buf[starts[i] : starts[i] + lengths[i]]`` for every ``i``.

    ``buf`` is a uint8 array; all slices must lie inside it.
    """
    n = len(starts)
    crc = np.full(n, 0xFFFFFFFF, dtype=np.uint32)
    if n == 0:
        return crc
    maxlen = int(lengths.max()) if n else 0
    eight = np.uint32(8)
    ff = np.uint32(0xFF)
    for j in range(maxlen):
        live = lengths > j
        if not live.all():
            idx = np.nonzero(live)[0]
            c = crc[idx]
            b = buf[starts[idx] + j].astype(np.uint32)
            crc[idx] = TABLE[(c ^ b) & ff] ^ (c >> eight)
        else:
            b = buf[starts + j].astype(np.uint32)
            crc = TABLE[(crc ^ b) & ff] ^ (crc >> eight)
    crc ^= np.uint32(0xFFFFFFFF)
    rot = (crc >> np.uint32(15)) | (crc << np.uint32(17))
    return (rot + np.uint32(0xA282EAD8)).astype(np.uint32)
