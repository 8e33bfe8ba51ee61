"""Small helpers: integer fields, boundary values, message skeletons for deduplication."""

from __future__ import annotations

import hashlib
import random
import re
import signal
import struct

ERROR_PREFIX = "weightdrift: error: "
SIGNAL_NAMES = {int(s): s.name for s in signal.Signals}  # canonical names (SIGABRT, not SIGIOT)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def u16(d, o):
    return struct.unpack_from("<H", d, o)[0]


def u32(d, o):
    return struct.unpack_from("<I", d, o)[0]


def u64(d, o):
    return struct.unpack_from("<Q", d, o)[0]


def put_int(d: bytearray, off: int, width: int, value: int):
    if off < 0 or off + width > len(d):
        return False
    d[off:off + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
    return True


def interesting_value(rng: random.Random, width: int, size_hint: int, current: int | None = None,
                      addrs: list[int] | None = None) -> int:
    top = (1 << (8 * width)) - 1
    vals = [0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, top, top - 1, top >> 1,
            (top >> 1) + 1]
    if width >= 2:
        vals += [0x7FFF, 0x8000, 0xFFFF, 1000, 4096, 65535]
    if width >= 4:
        vals += [0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE, 0x10000, 0x100000, 0x1000000,
                 size_hint, size_hint - 1, size_hint + 1, size_hint * 2, size_hint // 2]
    if width >= 8:
        vals += [1 << 32, (1 << 32) + 1, 1 << 40, 1 << 48, 1 << 62, 1 << 63, (1 << 63) - 1, top]
    choice = rng.random()
    if current is not None and choice < 0.25:
        return (current + rng.choice([-1, 1, -2, 2, -8, 8, -16, 16, 64, -64, 1 << rng.randrange(8 * width)])) & top
    if addrs and choice < 0.40:
        return rng.choice(addrs) & top
    if choice < 0.5:
        return rng.getrandbits(8 * width)
    return rng.choice(vals) & top


def normalise_message(line: str, paths: list[str]) -> str:
    """A message skeleton for deduplication: no paths, names or numbers."""
    for p, repl in paths:
        if p:
            line = line.replace(p, repl)
    line = re.sub(r"'[^']*'", "'_'", line)
    line = re.sub(r'"[^"]*"', '"_"', line)
    line = re.sub(r"0x[0-9a-fA-F]+", "N", line)
    line = re.sub(r"\d+", "N", line)
    return line[:200]


def message_skeleton(line: str, paths) -> str:
    """For 'weightdrift: error: FILE: OBJECT: message' keep the message part only."""
    line = normalise_message(line, paths)
    if line.startswith(ERROR_PREFIX):
        parts = line[len(ERROR_PREFIX):].split(": ")
        if len(parts) >= 3:
            parts = parts[2:]
        elif len(parts) == 2:
            parts = parts[1:]
        line = ERROR_PREFIX + ": ".join(parts)
    line = re.sub(r"/[^\s:]*", "/P", line)
    return line[:160]
