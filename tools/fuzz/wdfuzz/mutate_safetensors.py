"""safetensors tampering: the 8-byte header size, the header's JSON (textual and structural, as
for shard indexes), one tensor entry's fields, and the bytes of the header or the data."""

from __future__ import annotations

import json
import random
import struct

from .mutate_hdf5 import m_bitflip_multi, m_bitflip_single, m_delete_range, m_insert_range, m_random_block, weighted
from .mutate_json import mutate_json_bytes


def split(d: bytes) -> tuple[bytes, bytes]:
    size = struct.unpack_from("<Q", d)[0] if len(d) >= 8 else 0
    return bytes(d[8:8 + size]), bytes(d[8 + size:])


def join(header: bytes, rest: bytes, size: int | None = None) -> bytearray:
    return bytearray(struct.pack("<Q", len(header) if size is None else size) + header + rest)


def m_size(d, rng, info):
    header, _ = split(d)
    value = rng.choice([0, 1, 2, len(header) - 1, len(header) + 1, len(d) - 8, len(d), 100_000_001, 2**63, 2**64 - 1])
    d[:8] = struct.pack("<Q", max(0, value) % 2**64)
    return "header size %d" % value


def m_header_json(d, rng, info):
    header, rest = split(d)
    new, what = mutate_json_bytes(header, rng, index=False)
    d[:] = join(new, rest, None if rng.random() < 0.7 else len(header))
    return "header json: " + what


ODD = [None, -1, 0, 1, 2**31, 2**53 + 1, 2**63, 2**64, 1.5, "3", [], {}, [1, 2, 3], True]


def m_entry(d, rng, info):
    header, rest = split(d)
    try:
        doc = json.loads(header)
    except (ValueError, RecursionError):  # an earlier mutation broke the header, or nested it too deep
        return m_header_json(d, rng, info)
    if not isinstance(doc, dict):  # an earlier mutation made the header a list, string or number
        return m_header_json(d, rng, info)
    names = [k for k in doc if k != "__metadata__" and isinstance(doc[k], dict)]
    if not names:
        return m_header_json(d, rng, info)
    name = rng.choice(names)
    entry = doc[name]
    field = rng.choice(["dtype", "shape", "data_offsets", "drop", "rename"])
    if field == "dtype":
        entry["dtype"] = rng.choice(["F32", "F16", "BF16", "F64", "I64", "U8", "BOOL", "F8_E4M3", "f32", "", 7])
    elif field == "shape":
        entry["shape"] = rng.choice([[], [0], [2**40, 2**40], [-1], [len(rest)], [1] * 40, rng.choice(ODD)])
    elif field == "data_offsets":
        begin, end = (entry.get("data_offsets") or [0, 0])[:2]
        entry["data_offsets"] = rng.choice([[end, begin], [begin, end + 4], [begin - 4, end], [0, len(rest)],
                                            [begin], [begin, end, end], [rng.choice(ODD), end]])
    elif field == "drop":
        del doc[name]
    else:
        doc[rng.choice(["__metadata__", "", name + "/x", name.split("/")[0]])] = doc.pop(name)
    new = json.dumps(doc).encode()
    d[:] = join(new, rest)
    return "entry %s: %s" % (name, field)


def m_truncate(d, rng, info):
    cut = rng.randrange(len(d))
    del d[cut:]
    return "truncate at %d" % cut


MUTATORS = [(m_size, 10), (m_header_json, 20), (m_entry, 30), (m_bitflip_single, 10), (m_bitflip_multi, 8),
            (m_random_block, 5), (m_insert_range, 5), (m_delete_range, 5), (m_truncate, 7)]


def mutate_safetensors(data: bytes, rng: random.Random) -> tuple[bytes, list[str]]:
    """One or a few mutations of a safetensors file; returns the new bytes and a description."""
    d = bytearray(data)
    ops = []
    for _ in range(1 if rng.random() < 0.75 else rng.choice([2, 3])):
        if len(d) < 9:
            break
        ops.append(weighted(rng, MUTATORS)(d, rng, {}))
    return bytes(d), ops
