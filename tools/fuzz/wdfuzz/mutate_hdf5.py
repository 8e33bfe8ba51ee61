"""Byte-level mutators for HDF5 images (also used on embedded members and shards)."""

from __future__ import annotations

import random

from .hdf5map import H5Map
from .mutate_h5py import HAVE_H5PY, h5py_mutate
from .util import interesting_value, put_int, u64


def m_bitflip_single(d, rng, info):
    i = rng.randrange(len(d))
    b = rng.randrange(8)
    d[i] ^= 1 << b
    return "bitflip@%d.%d" % (i, b)


def m_bitflip_multi(d, rng, info):
    k = rng.choice([2, 3, 4, 8, 16, 32, 64])
    for _ in range(k):
        d[rng.randrange(len(d))] ^= 1 << rng.randrange(8)
    return "bitflips x%d" % k


def m_bitflip_head(d, rng, info):
    k = rng.choice([1, 1, 2, 3, 4, 8])
    lim = min(2048, len(d))
    offs = []
    for _ in range(k):
        i = rng.randrange(lim)
        d[i] ^= 1 << rng.randrange(8)
        offs.append(i)
    return "headflips@%s" % ",".join(map(str, offs))


def m_bitflip_hot(d, rng, info):
    hm = info["map"]()
    hot = hm.hot_offsets()
    k = rng.choice([1, 1, 1, 2, 3, 4])
    descr = []
    for _ in range(k):
        base = rng.choice(hot)
        i = base + rng.randrange(0, rng.choice([8, 16, 32, 64, 128]))
        if 0 <= i < len(d):
            d[i] ^= 1 << rng.randrange(8)
            descr.append(str(i))
    return "hotflips@%s" % ",".join(descr)


def m_field(d, rng, info):
    hm = info["map"]()
    if not hm.fields:
        return m_bitflip_head(d, rng, info)
    k = rng.choice([1, 1, 1, 1, 2, 3])
    descr = []
    for _ in range(k):
        off, width, label = rng.choice(hm.fields)
        if off + width > len(d):
            continue
        cur = int.from_bytes(d[off:off + width], "little")
        val = interesting_value(rng, width, len(d), cur, hm.addrs)
        put_int(d, off, width, val)
        descr.append("%s@%d=%#x" % (label, off, val))
    return "field " + ";".join(descr)


def m_msgdata(d, rng, info):
    hm = info["map"]()
    if not hm.msgs:
        return m_bitflip_hot(d, rng, info)
    mtype, hdr, data, size = rng.choice(hm.msgs)
    if size == 0:
        size = 8
    width = rng.choice([1, 2, 4, 8])
    off = data + rng.randrange(max(1, size - width + 1))
    cur = int.from_bytes(d[off:off + width], "little") if off + width <= len(d) else 0
    val = interesting_value(rng, width, len(d), cur, hm.addrs)
    put_int(d, off, width, val)
    return "msg%#x+%d w%d=%#x" % (mtype, off - data, width, val)


def m_relink(d, rng, info):
    """Point a symbol-table entry at another object header: an ancestor (a cycle), a sibling,
    a dataset, garbage."""
    hm = info["map"]()
    if not hm.snod_entries:
        return m_field(d, rng, info)
    e, parent = rng.choice(hm.snod_entries)
    choice = rng.random()
    if choice < 0.45 and hm.group_ohdrs:
        target = rng.choice(hm.group_ohdrs + ([parent] if parent is not None else []))
        what = "group(cycle?)"
        put_int(d, e + 16, 4, 1)  # cache type 1: the scratch pad holds a symbol table
        # copy the group's symbol table addresses into the scratch pad when we know them
        for mtype, hdr, data, size in hm.msgs:
            if mtype == 0x11 and hm.ohdrs and hdr > target and hdr < target + 4096:
                d[e + 24:e + 40] = d[data:data + 16]
                break
    elif choice < 0.75 and len(hm.snod_entries) > 1:
        e2, _ = rng.choice(hm.snod_entries)
        target = u64(d, e2 + 8)
        if rng.random() < 0.5:  # swap
            d[e + 8:e + 16], d[e2 + 8:e2 + 16] = d[e2 + 8:e2 + 16], d[e + 8:e + 16]
            d[e + 16:e + 40], d[e2 + 16:e2 + 40] = d[e2 + 16:e2 + 40], d[e + 16:e + 40]
            return "relink swap entries @%d,@%d" % (e, e2)
        what = "other"
    else:
        target = rng.choice(hm.ohdrs + [0, 0xFFFFFFFFFFFFFFFF, len(d) - 8, rng.randrange(len(d))])
        what = "any"
    put_int(d, e + 8, 8, target)
    return "relink entry@%d -> %s %#x" % (e, what, target)


def m_zero_block(d, rng, info, fill=0):
    n = rng.choice([1, 4, 8, 16, 64, 256, 1024, 4096])
    if rng.random() < 0.5:
        hot = info["map"]().hot_offsets()
        start = min(len(d) - 1, rng.choice(hot) + rng.randrange(16))
    else:
        start = rng.randrange(len(d))
    end = min(len(d), start + n)
    d[start:end] = bytes([fill]) * (end - start)
    return "%s block @%d+%d" % ("zero" if fill == 0 else "ff", start, end - start)


def m_ff_block(d, rng, info):
    return m_zero_block(d, rng, info, fill=0xFF)


def m_random_block(d, rng, info):
    n = rng.choice([2, 4, 8, 16, 64, 256])
    start = rng.randrange(len(d))
    end = min(len(d), start + n)
    d[start:end] = bytes(rng.getrandbits(8) for _ in range(end - start))
    return "random block @%d+%d" % (start, end - start)


def m_dup_range(d, rng, info):
    n = rng.choice([8, 16, 40, 64, 256, 1024, 4096])
    a = rng.randrange(len(d))
    b = rng.randrange(len(d))
    chunk = bytes(d[a:a + n])
    if rng.random() < 0.5 and info["map"]().hot_offsets():
        b = rng.choice(info["map"]().hot_offsets())
    d[b:b + len(chunk)] = chunk
    return "dup %d bytes @%d -> @%d" % (len(chunk), a, b)


def m_insert_range(d, rng, info):
    n = rng.choice([1, 3, 8, 16, 64, 512])
    a = rng.randrange(len(d))
    b = rng.randrange(len(d))
    chunk = bytes(d[a:a + n]) if rng.random() < 0.7 else bytes(n)
    d[b:b] = chunk
    return "insert %d bytes @%d (shift right)" % (len(chunk), b)


def m_delete_range(d, rng, info):
    n = rng.choice([1, 3, 8, 16, 64, 512, 4096])
    b = rng.randrange(len(d))
    del d[b:b + n]
    return "delete %d bytes @%d (shift left)" % (n, b)


def m_truncate(d, rng, info):
    r = rng.random()
    if r < 0.3:
        cut = rng.randrange(0, min(len(d), 4096))
    elif r < 0.6:
        cut = min(len(d), rng.choice(info["map"]().hot_offsets()) + rng.randrange(64))
    else:
        cut = rng.randrange(len(d))
    del d[cut:]
    return "truncate at %d" % cut


def m_splice(d, rng, info):
    other = info.get("other")
    if not other:
        return m_dup_range(d, rng, info)
    n = rng.choice([64, 512, 4096, 16384])
    a = rng.randrange(len(other))
    b = rng.randrange(len(d))
    chunk = other[a:a + n]
    d[b:b + len(chunk)] = chunk
    return "splice %d bytes from another seed @%d -> @%d" % (len(chunk), a, b)


BYTE_MUTATORS = [
    (m_bitflip_single, 8), (m_bitflip_multi, 7), (m_bitflip_head, 10), (m_bitflip_hot, 12),
    (m_field, 18), (m_msgdata, 10), (m_relink, 5), (m_truncate, 6), (m_zero_block, 4), (m_ff_block, 3),
    (m_random_block, 2), (m_dup_range, 3), (m_insert_range, 3), (m_delete_range, 3), (m_splice, 2),
]


def weighted(rng, table):
    total = sum(w for _, w in table)
    x = rng.uniform(0, total)
    for item, w in table:
        x -= w
        if x <= 0:
            return item
    return table[-1][0]


def mutate_hdf5_bytes(data: bytes, rng: random.Random, other: bytes | None = None, allow_h5py=True,
                      name="h5") -> tuple[bytes, list[str]]:
    """One or a few mutations of an HDF5 image; returns the new bytes and a description."""
    d = bytearray(data)
    cache = {}

    def get_map():
        if "m" not in cache or cache.get("len") != len(d):
            cache["m"] = H5Map(bytes(d))
            cache["len"] = len(d)
        return cache["m"]

    info = {"map": get_map, "other": other, "orig_len": len(data)}
    ops = []
    if allow_h5py and HAVE_H5PY and rng.random() < 0.13:
        new, what = h5py_mutate(bytes(d), rng)
        if new is not None:
            d = bytearray(new)
            ops.append("h5py:" + what)
            if rng.random() < 0.7:
                return bytes(d), ops
    rounds = 1 if rng.random() < 0.75 else rng.choice([2, 3, 4])
    for _ in range(rounds):
        if len(d) == 0:
            break
        fn = weighted(rng, BYTE_MUTATORS)
        cache.clear()
        ops.append(fn(d, rng, info))
    return bytes(d), ops
