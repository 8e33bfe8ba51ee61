#!/usr/bin/env python3
"""Mutation fuzzer for the weightdrift CLI.

Takes the sample checkpoints as seeds, mutates them (bit flips, structure-aware HDF5 field
tampering, truncation, block fills, byte-range duplication/shifting, zip header tampering for
`.keras`, JSON and folder tampering for sharded `.weights.json` sets, and a few h5py-level
rewrites that produce valid but unusual HDF5), runs `weightdrift inspect`, `inspect --stats`
and `compare` on every mutant, and checks the contract the tool must keep on any input:

  * the run ends within the timeout (10 s) with exit code 0, 1 or 2 (no signal, no hang);
  * libhdf5 prints nothing itself (no "HDF5-DIAG" lines);
  * exit code 2 comes with exactly one stderr line starting with "weightdrift: error: ";
  * the inputs are not modified (hashes before and after; no new files next to them).

Every violation is saved (deduplicated) under tools/fuzz/crashers/ with a README line.
Standard library only, except the optional h5py rewrites (skipped when h5py is missing).

    python3 tools/fuzz/fuzz.py --count 10000 --seed 1
    python3 tools/fuzz/fuzz.py --seed 1 --replay 1234 --replay-dir /tmp/m1234
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import multiprocessing as mp
import os
import random
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_BINARY = "/tmp/wd-fuzz/.build/release/weightdrift"
DEFAULT_SEED_DIRS = ["k3", "tfk", "tf213", "edge", "k3/sharded"]
ERROR_PREFIX = "weightdrift: error: "
HDF5_SIG = b"\x89HDF\r\n\x1a\n"
H5_SIGNATURES = [b"OHDR", b"OCHK", b"TREE", b"HEAP", b"SNOD", b"GCOL", b"FRHP", b"FHDB", b"FHIB",
                 b"FSHD", b"FSSE", b"BTHD", b"BTIN", b"BTLF", b"SMTB", b"SMLI", HDF5_SIG]
SIGNAL_NAMES = {int(s): s.name for s in signal.Signals}  # canonical names (SIGABRT, not SIGIOT)

# --------------------------------------------------------------------------------------------
# Small helpers


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


# --------------------------------------------------------------------------------------------
# HDF5 structure map: signatures, v0/v1 superblock, v1 object headers and their messages,
# v1 B-trees, symbol nodes, local and global heaps. Best effort on any bytes.


class H5Map:
    def __init__(self, data: bytes):
        self.d = data
        self.n = len(data)
        self.sigs: list[tuple[int, bytes]] = []
        self.ohdrs: list[int] = []
        self.group_ohdrs: list[int] = []
        self.msgs: list[tuple[int, int, int, int]] = []  # (type, header offset, data offset, size)
        self.fields: list[tuple[int, int, str]] = []  # (offset, width, label)
        self.snod_entries: list[tuple[int, int]] = []  # (entry offset, parent group ohdr)
        self.addrs: list[int] = []
        self.base = 0
        try:
            self._parse()
        except Exception:
            pass

    def _find_sigs(self):
        for sig in H5_SIGNATURES:
            start = 0
            while len(self.sigs) < 20000:
                i = self.d.find(sig, start)
                if i < 0:
                    break
                self.sigs.append((i, sig))
                start = i + 1

    def _ok(self, off, width=1):
        return 0 <= off and off + width <= self.n

    def _parse(self):
        self._find_sigs()
        d = self.d
        sb = -1
        for cand in (0, 512, 1024, 2048, 4096):
            if d[cand:cand + 8] == HDF5_SIG:
                sb = cand
                break
        for g, sig in self.sigs:
            if sig == b"GCOL" and self._ok(g, 16):
                self.fields += [(g + 4, 1, "gcol.version"), (g + 8, 8, "gcol.size")]
                end = min(self.n, g + u64(d, g + 8))
                o = g + 16
                for _ in range(4096):
                    if o + 16 > end:
                        break
                    idx, size = u16(d, o), u64(d, o + 8)
                    self.fields += [(o, 2, "gobj.index"), (o + 2, 2, "gobj.refcount"), (o + 8, 8, "gobj.size")]
                    if idx == 0:
                        break
                    o += 16 + ((size + 7) & ~7)
        if sb < 0:
            return
        ver = d[sb + 8]
        for i in range(8, 24):
            self.fields.append((sb + i, 1, "sb.byte%d" % i))
        if ver in (0, 1):
            off = sb + 24 + (4 if ver == 1 else 0)
            self.fields += [(sb + 16, 2, "sb.leafK"), (sb + 18, 2, "sb.internalK"), (sb + 20, 4, "sb.flags"),
                            (off, 8, "sb.base"), (off + 8, 8, "sb.freespace"), (off + 16, 8, "sb.eof"),
                            (off + 24, 8, "sb.driver")]
            self.base = u64(d, off) if u64(d, off) < self.n else 0
            root = off + 32
            self.fields += [(root, 8, "root.name"), (root + 8, 8, "root.ohdr"), (root + 16, 4, "root.cache"),
                            (root + 24, 8, "root.btree"), (root + 32, 8, "root.heap")]
            root_oh = u64(d, root + 8)
        elif ver in (2, 3):
            self.fields += [(sb + 12, 8, "sb.base"), (sb + 20, 8, "sb.ext"), (sb + 28, 8, "sb.eof"),
                            (sb + 36, 8, "sb.root")]
            root_oh = u64(d, sb + 36)
        else:
            return
        self.addrs.append(root_oh)
        queue = [(root_oh, None)]
        seen = set()
        while queue and len(seen) < 4000:
            addr, parent = queue.pop()
            a = addr + self.base
            if a in seen or not self._ok(a, 16):
                continue
            seen.add(a)
            self._parse_ohdr(a, parent, queue)

    def _parse_ohdr(self, a, parent, queue):
        d = self.d
        if d[a:a + 4] == b"OHDR":
            self.ohdrs.append(a)
            return
        if d[a] != 1:
            return
        self.ohdrs.append(a)
        self.fields += [(a, 1, "oh.version"), (a + 2, 2, "oh.nmsgs"), (a + 4, 4, "oh.refcount"), (a + 8, 4, "oh.size")]
        blocks = [(a + 16, u32(d, a + 8))]
        is_group = False
        done_blocks = 0
        while blocks and done_blocks < 64:
            start, size = blocks.pop()
            done_blocks += 1
            p, end = start, min(start + size, self.n)
            count = 0
            while p + 8 <= end and count < 512:
                count += 1
                mtype, msize, flags = u16(d, p), u16(d, p + 2), d[p + 4]
                data = p + 8
                self.msgs.append((mtype, p, data, msize))
                self.fields += [(p, 2, "msg.type"), (p + 2, 2, "msg.size"), (p + 4, 1, "msg.flags")]
                if mtype == 0x10 and self._ok(data, 16):  # continuation
                    self.fields += [(data, 8, "cont.addr"), (data + 8, 8, "cont.len")]
                    blocks.append((u64(d, data) + self.base, u64(d, data + 8)))
                elif mtype == 0x11 and self._ok(data, 16):  # symbol table: v1 B-tree + local heap
                    is_group = True
                    self.fields += [(data, 8, "symtab.btree"), (data + 8, 8, "symtab.heap")]
                    self._parse_heap(u64(d, data + 8) + self.base)
                    self._parse_group_tree(u64(d, data) + self.base, a, queue, 0)
                elif mtype == 0x01 and self._ok(data, 8):  # dataspace
                    rank = d[data + 1]
                    self.fields += [(data, 1, "space.version"), (data + 1, 1, "space.rank"), (data + 2, 1, "space.flags")]
                    dims = data + (8 if d[data] == 1 else 4)
                    for i in range(min(rank, 32) * (2 if d[data + 2] & 1 else 1)):
                        self.fields.append((dims + 8 * i, 8, "space.dim"))
                elif mtype == 0x03 and self._ok(data, 8):  # datatype
                    self.fields += [(data, 1, "type.classver"), (data + 1, 1, "type.bits0"), (data + 2, 1, "type.bits1"),
                                    (data + 4, 4, "type.size")]
                    if self._ok(data, 12):
                        self.fields += [(data + 8, 2, "type.offset"), (data + 10, 2, "type.precision")]
                    if self._ok(data, 16):
                        self.fields += [(data + 12, 1, "type.exppos"), (data + 13, 1, "type.expsize"),
                                        (data + 14, 1, "type.manpos"), (data + 15, 1, "type.mansize")]
                elif mtype == 0x08 and self._ok(data, 4):  # layout
                    self.fields += [(data, 1, "layout.version"), (data + 1, 1, "layout.class")]
                    if d[data] == 3:
                        cls = d[data + 1]
                        if cls == 1:
                            self.fields += [(data + 2, 8, "layout.addr"), (data + 10, 8, "layout.size")]
                            if self._ok(data + 2, 8):
                                self.addrs.append(u64(d, data + 2))
                        elif cls == 2:
                            ndim = d[data + 2]
                            self.fields += [(data + 2, 1, "layout.ndims"), (data + 3, 8, "layout.btree")]
                            for i in range(min(ndim, 33)):
                                self.fields.append((data + 11 + 4 * i, 4, "layout.chunkdim"))
                            if self._ok(data + 3, 8):
                                self._parse_chunk_tree(u64(d, data + 3) + self.base, ndim, 0)
                        elif cls == 0:
                            self.fields += [(data + 2, 2, "layout.compactsize")]
                elif mtype == 0x0C and self._ok(data, 8):  # attribute
                    self.fields += [(data, 1, "attr.version"), (data + 2, 2, "attr.namelen"),
                                    (data + 4, 2, "attr.typelen"), (data + 6, 2, "attr.spacelen")]
                    if d[data] == 1:
                        nl, tl, sl = u16(d, data + 2), u16(d, data + 4), u16(d, data + 6)
                        pad = lambda x: (x + 7) & ~7
                        t = data + 8 + pad(nl)
                        s = t + pad(tl)
                        self.fields += [(t, 1, "attr.type.classver"), (t + 4, 4, "attr.type.size"),
                                        (s + 1, 1, "attr.space.rank")]
                        for i in range(2):
                            self.fields.append((s + 8 + 8 * i, 8, "attr.space.dim"))
                elif mtype == 0x0B and self._ok(data, 8):  # filter pipeline
                    self.fields += [(data, 1, "filters.version"), (data + 1, 1, "filters.count"),
                                    (data + 8, 2, "filter.id"), (data + 10, 2, "filter.namelen"),
                                    (data + 12, 2, "filter.flags"), (data + 14, 2, "filter.nvalues")]
                elif mtype == 0x05 and self._ok(data, 4):  # fill value
                    self.fields += [(data, 1, "fill.version"), (data + 1, 1, "fill.alloc"), (data + 3, 1, "fill.defined")]
                p = data + ((msize + 7) & ~7 if msize else 0)
                if msize == 0:
                    p = data
                    break
        if is_group:
            self.group_ohdrs.append(a)

    def _parse_heap(self, h):
        if self._ok(h, 32) and self.d[h:h + 4] == b"HEAP":
            self.fields += [(h + 4, 1, "heap.version"), (h + 8, 8, "heap.datasize"), (h + 16, 8, "heap.freelist"),
                            (h + 24, 8, "heap.dataaddr")]

    def _parse_group_tree(self, t, parent, queue, depth):
        d = self.d
        if depth > 8 or not self._ok(t, 24) or d[t:t + 4] != b"TREE":
            return
        self.fields += [(t + 4, 1, "tree.type"), (t + 5, 1, "tree.level"), (t + 6, 2, "tree.entries"),
                        (t + 8, 8, "tree.left"), (t + 16, 8, "tree.right")]
        level, entries = d[t + 5], u16(d, t + 6)
        p = t + 24
        for _ in range(min(entries, 256)):
            if not self._ok(p, 16):
                break
            self.fields += [(p, 8, "tree.key"), (p + 8, 8, "tree.child")]
            child = u64(d, p + 8) + self.base
            if level > 0:
                self._parse_group_tree(child, parent, queue, depth + 1)
            else:
                self._parse_snod(child, parent, queue)
            p += 16

    def _parse_snod(self, s, parent, queue):
        d = self.d
        if not self._ok(s, 8) or d[s:s + 4] != b"SNOD":
            return
        self.fields += [(s + 4, 1, "snod.version"), (s + 6, 2, "snod.count")]
        for i in range(min(u16(d, s + 6), 256)):
            e = s + 8 + 40 * i
            if not self._ok(e, 40):
                break
            self.snod_entries.append((e, parent))
            self.fields += [(e, 8, "entry.name"), (e + 8, 8, "entry.ohdr"), (e + 16, 4, "entry.cache"),
                            (e + 24, 8, "entry.scratch0"), (e + 32, 8, "entry.scratch1")]
            oh = u64(d, e + 8)
            self.addrs.append(oh)
            queue.append((oh, parent))

    def _parse_chunk_tree(self, t, ndim, depth):
        d = self.d
        if depth > 8 or not self._ok(t, 24) or d[t:t + 4] != b"TREE":
            return
        self.fields += [(t + 4, 1, "ctree.type"), (t + 5, 1, "ctree.level"), (t + 6, 2, "ctree.entries"),
                        (t + 8, 8, "ctree.left"), (t + 16, 8, "ctree.right")]
        level, entries = d[t + 5], u16(d, t + 6)
        keysize = 8 + 8 * ndim
        p = t + 24
        for _ in range(min(entries, 512)):
            if not self._ok(p, keysize + 8):
                break
            self.fields += [(p, 4, "ckey.size"), (p + 4, 4, "ckey.mask")]
            for i in range(ndim):
                self.fields.append((p + 8 + 8 * i, 8, "ckey.offset"))
            child = u64(d, p + keysize) + self.base
            self.fields.append((p + keysize, 8, "ctree.child"))
            if level > 0:
                self._parse_chunk_tree(child, ndim, depth + 1)
            p += keysize + 8

    def hot_offsets(self):
        offs = [o for o, _ in self.sigs] + self.ohdrs + [m[1] for m in self.msgs]
        return offs or [0]


# --------------------------------------------------------------------------------------------
# Byte-level mutators for HDF5 images (also used on embedded members and shards).


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


# --------------------------------------------------------------------------------------------
# h5py rewrites: valid HDF5 with unusual content (cycles, huge shapes, odd dtypes, links, names).

try:
    import h5py  # noqa: F401
    import numpy as np  # noqa: F401
    HAVE_H5PY = True
except Exception:  # pragma: no cover
    HAVE_H5PY = False

WEIRD_NAMES = ["a\nb", "line\r\nbreak", "tab\there", "\u00fcml\u00e4ut", "\u65e5\u672c", "x" * 250, " ", "..",
               "-1", "99999999999999999999", "01", "1e3", " 1", "0 ", "\x1b[31mred", "%s%n%x", "a:b", "\\", "*",
               "emoji\U0001F600", "kernel:0", "vars", "layers", "model_weights"]


def h5py_mutate(data: bytes, rng: random.Random):
    import h5py
    import numpy as np
    tmpdir = tempfile.mkdtemp(prefix="wdh5")
    path = os.path.join(tmpdir, "x.h5")
    try:
        with open(path, "wb") as fh:
            fh.write(data)
        try:
            f = h5py.File(path, "r+")
        except Exception:
            return None, "unopenable"
        what = "?"
        try:
            groups, datasets = [], []

            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    datasets.append(name)
                elif isinstance(obj, h5py.Group):
                    groups.append(name)
            f.visititems(visit)
            op = rng.choice(["cycle", "cycle", "bigshape", "dtype", "dtype", "dtype", "customfloat",
                             "rank", "attr", "attr", "attr", "link", "filters", "delete", "rename", "rename"])
            if op == "bigshape" and rng.random() < 0.5:
                op = "attr"  # huge shapes time out; keep them rarer
            what = op
            if op == "cycle" and groups:
                g = f[rng.choice(groups)]
                anc = rng.choice(["/"] + [g.name.rsplit("/", i)[0] or "/" for i in range(1, g.name.count("/"))] + [g.name])
                nm = rng.choice(["loop", "zz", "0", "vars", "9"])
                if nm in g:
                    nm = "loop"
                if nm not in g:
                    g[nm] = f[anc]
                what = "cycle %s/%s -> %s" % (g.name, nm, anc)
            elif op == "bigshape" and datasets:
                p = rng.choice(datasets)
                ds = f[p]
                dt = ds.dtype
                attrs = dict(ds.attrs)
                shape = ds.shape or (1,)
                total = rng.choice([1 << 28, 1 << 31, 1 << 34, 1 << 40, 1 << 50, 1 << 62])
                if rng.random() < 0.5:
                    newshape = (total,)
                else:
                    k = max(1, int(round((total / max(1, np.prod(shape))) ** (1.0 / len(shape)))))
                    newshape = tuple(max(1, s) * k for s in shape)
                chunks = tuple(min(s, 64) for s in newshape)
                del f[p]
                fv = rng.choice([0, 1, float("nan")]) if dt.kind == "f" else 0
                nd = f.create_dataset(p, shape=newshape, dtype=dt, chunks=chunks, fillvalue=fv, maxshape=newshape)
                for k2, v in attrs.items():
                    nd.attrs[k2] = v
                what = "bigshape %s %s -> %s fill=%s" % (p, shape, newshape, fv)
            elif op == "dtype" and datasets:
                p = rng.choice(datasets)
                ds = f[p]
                shape = ds.shape
                try:
                    vals = ds[()]
                except Exception:
                    vals = np.zeros(shape, "f4")
                attrs = dict(ds.attrs)
                choices = ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", ">f2", ">f4", ">f8", "f8", "c8", "c16",
                           "S4", "str", "vlenf", "enum", "bool", "V2", "V3", "V8", "V1", "arr", "compound", "f16", "ref"]
                c = rng.choice(choices)
                del f[p]
                arr = np.asarray(vals)
                if c in ("i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", ">f2", ">f4", ">f8", "f8", "c8", "c16"):
                    with np.errstate(all="ignore"):
                        nd = f.create_dataset(p, data=np.nan_to_num(arr.astype("f8")).astype(c))
                elif c == "f16":
                    nd = f.create_dataset(p, data=arr.astype(np.longdouble))
                elif c == "S4":
                    nd = f.create_dataset(p, data=np.full(shape, b"abcd", "S4"))
                elif c == "str":
                    nd = f.create_dataset(p, shape=shape, dtype=h5py.string_dtype())
                elif c == "vlenf":
                    nd = f.create_dataset(p, shape=shape, dtype=h5py.vlen_dtype(np.float32))
                elif c == "enum":
                    nd = f.create_dataset(p, shape=shape, dtype=h5py.enum_dtype({"A": 0, "B": 1}, basetype="i1"))
                elif c == "bool":
                    nd = f.create_dataset(p, data=np.zeros(shape, bool))
                elif c.startswith("V"):
                    n = int(c[1:])
                    nd = f.create_dataset(p, data=np.zeros(shape, "V%d" % n))
                elif c == "arr":
                    nd = f.create_dataset(p, shape=shape, dtype=np.dtype("(2,)f4"))
                elif c == "compound":
                    nd = f.create_dataset(p, shape=shape, dtype=np.dtype([("a", "f4"), ("b", "f4")]))
                else:
                    nd = f.create_dataset(p, shape=shape, dtype=h5py.ref_dtype)
                for k2, v in attrs.items():
                    nd.attrs[k2] = v
                if rng.random() < 0.3:
                    nd.attrs["dtype"] = rng.choice(["bfloat16", "float8", "int4", "", "float16"])
                what = "dtype %s -> %s" % (p, c)
            elif op == "customfloat" and datasets:
                p = rng.choice(datasets)
                shape = f[p].shape
                attrs = dict(f[p].attrs)
                del f[p]
                size = rng.choice([1, 2, 3, 4, 5, 6, 8, 16])
                t = h5py.h5t.IEEE_F32LE.copy()
                bits = size * 8
                t.set_size(size)
                try:
                    ebits = rng.choice([min(bits - 2, 4), min(bits - 2, 5), min(bits - 2, 8), min(bits - 2, 11)])
                    mbits = max(1, bits - 1 - ebits)
                    prec = rng.choice([bits, max(2, bits - rng.randrange(bits))])
                    t.set_fields(bits - 1, mbits, ebits, 0, mbits)
                    t.set_ebias((1 << (ebits - 1)) - 1)
                    if rng.random() < 0.3:
                        t.set_norm(rng.choice([h5py.h5t.NORM_NONE, h5py.h5t.NORM_MSBSET, h5py.h5t.NORM_IMPLIED]))
                    if rng.random() < 0.2:
                        t.set_precision(prec)
                        t.set_offset(bits - prec)
                except Exception:
                    pass
                sid = h5py.h5s.create_simple(shape) if shape else h5py.h5s.create(h5py.h5s.SCALAR)
                gname, _, leaf = p.rpartition("/")
                parent = f[gname] if gname else f
                h5py.h5d.create(parent.id, leaf.encode(), t, sid)
                for k2, v in attrs.items():
                    f[p].attrs[k2] = v
                what = "customfloat %s size=%d" % (p, size)
            elif op == "rank" and datasets:
                p = rng.choice(datasets)
                attrs = dict(f[p].attrs)
                dt = f[p].dtype
                del f[p]
                c = rng.choice(["rank32", "zero", "zero2", "scalar", "null", "one"])
                if c == "rank32":
                    nd = f.create_dataset(p, shape=(1,) * 32, dtype=dt)
                elif c == "zero":
                    nd = f.create_dataset(p, shape=(0,), dtype=dt)
                elif c == "zero2":
                    nd = f.create_dataset(p, shape=(3, 0, 1, 8), dtype=dt)
                elif c == "scalar":
                    nd = f.create_dataset(p, data=np.array(1.5, dtype=dt))
                elif c == "null":
                    nd = f.create_dataset(p, data=h5py.Empty(dt))
                else:
                    nd = f.create_dataset(p, shape=(1,), dtype=dt)
                for k2, v in attrs.items():
                    nd.attrs[k2] = v
                what = "rank %s -> %s" % (p, c)
            elif op == "attr":
                objs = ["/"] + groups + datasets
                o = f[rng.choice(objs)]
                names = list(o.attrs.keys()) or ["name"]
                an = rng.choice(names + ["layer_names", "weight_names", "name", "keras_version", "model_config",
                                         "layer_names0", "dtype"])
                c = rng.choice(["int", "float", "2d", "newline", "nul", "badutf8", "empty", "many", "long",
                                "dots", "emptystr", "null", "vlenint", "json"])
                if c == "int":
                    v = np.arange(5, dtype="i4")
                elif c == "float":
                    v = np.array([1.5, float("nan")])
                elif c == "2d":
                    v = np.array([[b"a", b"b"], [b"c", b"d"]])
                elif c == "newline":
                    v = np.array([b"dense\nx", b"conv2d\r\n"]) if rng.random() < 0.5 else "dense\nnext line"
                elif c == "nul":
                    v = np.array([b"den\x00se", b"\x00"])
                elif c == "badutf8":
                    v = np.array([b"\xff\xfe\x80", b"\xc3"])
                elif c == "empty":
                    v = np.array([], dtype="S1")
                elif c == "many":
                    v = np.array([("layer%d" % i).encode() for i in range(rng.choice([1000, 20000, 60000]))])
                elif c == "long":
                    v = "L" * rng.choice([1000, 60000])
                elif c == "dots":
                    v = np.array([b"..", b"/", b".", b"../..", b"a/../../b", b"/model_weights"])
                elif c == "emptystr":
                    v = np.array([b"", b""])
                elif c == "null":
                    v = h5py.Empty("S10")
                elif c == "vlenint":
                    dtv = h5py.vlen_dtype(np.int32)
                    v = np.empty(2, dtype=dtv)
                    v[0] = np.arange(3, dtype=np.int32)
                    v[1] = np.arange(1, dtype=np.int32)
                else:
                    v = json.dumps({"class_name": [1, {"x": None}], "config": "x" * 10})
                try:
                    if an in o.attrs:
                        del o.attrs[an]
                    o.attrs[an] = v
                except Exception as exc:
                    what = "attr-failed %s" % exc
                what = "attr %s@%s = %s" % (an, o.name, c)
            elif op == "link":
                p = rng.choice(datasets + groups) if (datasets or groups) else None
                if p:
                    del f[p]
                    c = rng.choice(["soft-root", "soft-self", "soft-dangling", "ext-passwd", "ext-self", "ext-missing"])
                    if c == "soft-root":
                        f[p] = h5py.SoftLink("/")
                    elif c == "soft-self":
                        f[p] = h5py.SoftLink("/" + p)
                    elif c == "soft-dangling":
                        f[p] = h5py.SoftLink("/nowhere/x")
                    elif c == "ext-passwd":
                        f[p] = h5py.ExternalLink("/etc/passwd", "/")
                    elif c == "ext-self":
                        f[p] = h5py.ExternalLink(os.path.basename(path), "/")
                    else:
                        f[p] = h5py.ExternalLink("missing.h5", "/x")
                    what = "link %s -> %s" % (p, c)
            elif op == "filters" and datasets:
                p = rng.choice(datasets)
                ds = f[p]
                if ds.shape:
                    vals = ds[()]
                    attrs = dict(ds.attrs)
                    del f[p]
                    c = rng.choice(["gzip", "lzf", "shuffle", "fletcher32", "scaleoffset", "tiny-chunks", "gzip9-shuffle"])
                    kw = {"chunks": tuple(max(1, s // 2) for s in vals.shape) if all(vals.shape) else True}
                    if c == "gzip":
                        kw["compression"] = "gzip"
                    elif c == "lzf":
                        kw["compression"] = "lzf"
                    elif c == "shuffle":
                        kw["shuffle"] = True
                    elif c == "fletcher32":
                        kw["fletcher32"] = True
                    elif c == "scaleoffset":
                        kw["scaleoffset"] = 3 if vals.dtype.kind == "f" else 0
                    elif c == "tiny-chunks":
                        kw["chunks"] = tuple(1 for _ in vals.shape)
                    else:
                        kw.update(compression="gzip", compression_opts=9, shuffle=True)
                    try:
                        nd = f.create_dataset(p, data=vals, **kw)
                    except Exception:
                        nd = f.create_dataset(p, data=vals)
                        c += "(failed)"
                    for k2, v in attrs.items():
                        nd.attrs[k2] = v
                    what = "filters %s %s" % (p, c)
            elif op == "delete" and (datasets or groups):
                p = rng.choice(datasets + groups)
                del f[p]
                what = "delete %s" % p
            elif op == "rename" and (datasets or groups):
                p = rng.choice(datasets + groups)
                parent, _, leaf = p.rpartition("/")
                new = (parent + "/" if parent else "") + rng.choice(WEIRD_NAMES)
                if new not in f:
                    f.move(p, new)
                what = "rename %s -> %r" % (p, new)
        finally:
            f.close()
        with open(path, "rb") as fh:
            return fh.read(), what
    except Exception as exc:
        return None, "error %s" % exc
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Zip (.keras) parsing, building and tampering.


def zip_parse(d: bytes):
    eocd = d.rfind(b"PK\x05\x06")
    if eocd < 0 or eocd + 22 > len(d):
        return None
    n = u16(d, eocd + 10)
    cd_size = u32(d, eocd + 12)
    cd_off = u32(d, eocd + 16)
    entries = []
    p = cd_off
    for _ in range(n):
        if p + 46 > len(d) or d[p:p + 4] != b"PK\x01\x02":
            break
        nlen, xlen, clen = u16(d, p + 28), u16(d, p + 30), u16(d, p + 32)
        lho = u32(d, p + 42)
        e = {"cd": p, "name": d[p + 46:p + 46 + nlen], "method": u16(d, p + 10), "csize": u32(d, p + 20),
             "usize": u32(d, p + 24), "lho": lho, "nlen": nlen, "xlen": xlen, "clen": clen}
        if lho + 30 <= len(d) and d[lho:lho + 4] == b"PK\x03\x04":
            e["data_off"] = lho + 30 + u16(d, lho + 26) + u16(d, lho + 28)
            e["data"] = d[e["data_off"]:e["data_off"] + e["csize"]]
        entries.append(e)
        p += 46 + nlen + xlen + clen
    return {"eocd": eocd, "cd_off": cd_off, "cd_size": cd_size, "entries": entries}


def zip_build(members, prefix=b"", comment=b"", zip64_eocd=False, eocd_entries=None, cd_comment_len=None):
    """members: dicts with name, data and optional method, crc, csize, usize, lname, lextra, cextra,
    zip64 (dict of 64-bit values for the extra field), lho_override."""
    out = bytearray(prefix)
    cds = []
    for m in members:
        lho = len(out)
        data = m["data"]
        method = m.get("method", 0)
        crc = m.get("crc", zlib.crc32(data) & 0xFFFFFFFF)
        cs = m.get("csize", len(data))
        us = m.get("usize", len(data))
        lname = m.get("lname", m["name"])
        lextra = m.get("lextra", b"")
        z64 = m.get("zip64")
        lcs, lus = cs, us
        if z64 is not None:
            lextra = struct.pack("<HHQQ", 1, 16, z64.get("usize", us), z64.get("csize", cs)) + lextra
            lcs = lus = 0xFFFFFFFF
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if z64 else 20, 0, method, 0, 0x21, crc,
                           lcs & 0xFFFFFFFF, lus & 0xFFFFFFFF, len(lname), len(lextra))
        out += lname + lextra + data
        cds.append((m, lho, crc, cs, us, method))
    cd_off = len(out)
    for m, lho, crc, cs, us, method in cds:
        lho = m.get("lho_override", lho)
        cextra = m.get("cextra", b"")
        z64 = m.get("zip64")
        ccs, cus, clho = cs, us, lho
        if z64 is not None:
            vals = []
            if z64.get("sat_usize", True):
                vals.append(z64.get("usize", us))
                cus = 0xFFFFFFFF
            if z64.get("sat_csize", True):
                vals.append(z64.get("csize", cs))
                ccs = 0xFFFFFFFF
            if z64.get("sat_lho", False):
                vals.append(z64.get("lho", lho))
                clho = 0xFFFFFFFF
            body = b"".join(struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF) for v in vals)
            dlen = z64.get("declared_len", len(body))
            cextra = struct.pack("<HH", 1, dlen & 0xFFFF) + body + cextra
        ccomment = m.get("ccomment", b"")
        out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 45 if z64 else 20, 0, method, 0, 0x21, crc,
                           ccs & 0xFFFFFFFF, cus & 0xFFFFFFFF, len(m["name"]), len(cextra), len(ccomment), 0, 0,
                           0x81A40000, clho & 0xFFFFFFFF)
        out += m["name"] + cextra + ccomment
    cd_size = len(out) - cd_off
    n = len(members) if eocd_entries is None else eocd_entries
    if zip64_eocd:
        z = zip64_eocd if isinstance(zip64_eocd, dict) else {}
        rec = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, z.get("entries", n), z.get("entries", n),
                           z.get("cd_size", cd_size), z.get("cd_off", cd_off))
        out += struct.pack("<IIQI", 0x07064B50, 0, z.get("record", rec), 1)
        e_n, e_size, e_off = 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF
    else:
        e_n, e_size, e_off = n & 0xFFFF, cd_size, cd_off
    clen = len(comment) if cd_comment_len is None else cd_comment_len
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, e_n, e_n, e_size & 0xFFFFFFFF, e_off & 0xFFFFFFFF, clen & 0xFFFF)
    out += comment
    return bytes(out)


def keras_members(d: bytes):
    z = zip_parse(d)
    if not z:
        return None
    ms = []
    for e in z["entries"]:
        if "data" not in e:
            return None
        ms.append({"name": e["name"], "data": e["data"], "method": e["method"]})
    return ms


ZIP_LOCAL_FIELDS = [(4, 2, "version"), (6, 2, "flags"), (8, 2, "method"), (14, 4, "crc"), (18, 4, "csize"),
                    (22, 4, "usize"), (26, 2, "namelen"), (28, 2, "extralen")]
ZIP_CD_FIELDS = [(6, 2, "version"), (8, 2, "flags"), (10, 2, "method"), (16, 4, "crc"), (20, 4, "csize"),
                 (24, 4, "usize"), (28, 2, "namelen"), (30, 2, "extralen"), (32, 2, "commentlen"),
                 (34, 2, "disk"), (42, 4, "lho")]
ZIP_EOCD_FIELDS = [(4, 2, "disk"), (6, 2, "cddisk"), (8, 2, "entries_disk"), (10, 2, "entries"), (12, 4, "cdsize"),
                   (16, 4, "cdoff"), (20, 2, "commentlen")]
MEMBER_NAMES = [b"model.weights.h5", b"config.json", b"metadata.json", b"MODEL.weights.h5", b"model.weights.h5\x00",
                b"model.weights.h5 ", b"./model.weights.h5", b"../model.weights.h5", b"/model.weights.h5",
                b"dir/model.weights.h5", b"model.weights.h5\nx", b"model\xff.weights.h5", b"", b"assets/",
                b"x" * 300, b"model.weights.h4", b"model.weights.json"]


def mutate_keras(data: bytes, rng: random.Random, ctx) -> tuple[bytes, list[str]]:
    z = zip_parse(data)
    if not z or not z["entries"]:
        d, ops = mutate_hdf5_bytes(data, rng, allow_h5py=False)
        return d, ["raw " + o for o in ops]
    entries = z["entries"]
    members = keras_members(data)
    weights = next((e for e in entries if e["name"] == b"model.weights.h5"), entries[-1])
    r = rng.random()
    d = bytearray(data)
    if r < 0.30:  # embedded HDF5
        if "data" not in weights:
            return data, ["noop"]
        inner = weights["data"]
        other = ctx.get("other_h5")
        new, ops = mutate_hdf5_bytes(inner, rng, other)
        if (len(new) == len(inner) and rng.random() < 0.7) or members is None:
            d[weights["data_off"]:weights["data_off"] + len(inner)] = new
            return bytes(d), ["inner-inplace " + o for o in ops]
        ms = [dict(m) for m in members]
        for m in ms:
            if m["name"] == weights["name"]:
                m["data"] = new
        return zip_build(ms), ["inner-rebuilt " + o for o in ops]
    if r < 0.45:  # raw header field tampering
        k = rng.choice([1, 1, 1, 2, 3])
        ops = []
        for _ in range(k):
            which = rng.random()
            e = rng.choice(entries) if rng.random() < 0.5 else weights
            if which < 0.35:
                off, w, label = rng.choice(ZIP_LOCAL_FIELDS)
                base, kind = e["lho"], "local"
            elif which < 0.8:
                off, w, label = rng.choice(ZIP_CD_FIELDS)
                base, kind = e["cd"], "central"
            else:
                off, w, label = rng.choice(ZIP_EOCD_FIELDS)
                base, kind = z["eocd"], "eocd"
            cur = int.from_bytes(d[base + off:base + off + w], "little")
            addrs = [e.get("data_off", 0), e["lho"], z["cd_off"], len(d)]
            val = interesting_value(rng, w, len(d), cur, addrs)
            put_int(d, base + off, w, val)
            ops.append("%s[%s].%s=%#x" % (kind, e["name"][:20].decode("latin1") if kind != "eocd" else "", label, val))
        return bytes(d), ["zipfield " + "; ".join(ops)]
    if members is None:
        nd, ops = mutate_hdf5_bytes(data, rng, allow_h5py=False)
        return nd, ["raw " + o for o in ops]
    ms = [dict(m) for m in members]
    wm = next((m for m in ms if m["name"] == b"model.weights.h5"), ms[-1])
    big = [0xFFFFFFFF, 1 << 32, 1 << 40, 1 << 62, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, len(wm["data"]) + 1,
           len(wm["data"]) - 1, len(data), 0, 30]
    op = rng.choice(["deflate", "deflate", "deflate", "sizes", "sizes", "zip64member", "zip64member", "zip64eocd",
                     "rename", "rename", "swap", "drop",
                     "dup", "reorder", "method", "method", "crossformat", "json", "json", "json", "prefix", "comment",
                     "extra", "lho"])
    what = op
    kw = {}
    if op == "deflate":
        # members re-zipped with DEFLATE: an intact or mutated HDF5 inside, and lies about the stream
        m = rng.choice(ms) if rng.random() < 0.25 else wm
        raw = m["data"]
        inner_ops = []
        if m is wm and rng.random() < 0.5:
            raw, inner_ops = mutate_hdf5_bytes(raw, rng, ctx.get("other_h5"), allow_h5py=False)
        c = rng.choice(["plain", "plain", "flip", "truncate", "usize-small", "usize-big", "usize-huge", "crc",
                        "zlib-header", "trailing", "level0", "bomb", "empty-stream", "csize-lie"])
        if c == "bomb":
            raw = raw + bytes(rng.choice([64 << 20, 200 << 20]))
        co = zlib.compressobj(0 if c == "level0" else 9, zlib.DEFLATED, 15 if c == "zlib-header" else -15)
        comp = co.compress(raw) + co.flush()
        m["usize"] = len(raw) & 0xFFFFFFFF
        m["crc"] = zlib.crc32(raw) & 0xFFFFFFFF
        if c == "flip":
            comp = bytearray(comp)
            for _ in range(rng.choice([1, 2, 8])):
                comp[rng.randrange(len(comp))] ^= 1 << rng.randrange(8)
            comp = bytes(comp)
        elif c == "truncate":
            comp = comp[: rng.randrange(len(comp))]
        elif c == "usize-small":
            m["usize"] = rng.randrange(len(raw) + 1)
        elif c == "usize-big":
            m["usize"] = len(raw) + rng.choice([1, 8, 4096])
        elif c == "usize-huge":
            m["usize"] = rng.choice([0xFFFFFFFF, 0x7FFFFFFF])
        elif c == "crc":
            m["crc"] ^= 1 << rng.randrange(32)
        elif c == "trailing":
            comp += b"\x00garbage" * 4
        elif c == "empty-stream":
            comp = b""
        elif c == "csize-lie":
            m["csize"] = len(comp) + rng.choice([-10, -1, 1, 100, 1 << 20])
            if m["csize"] < 0:
                m["csize"] = 0
        m["data"] = comp
        m["method"] = 8
        what = "deflate %s %s%s" % (m["name"], c, (" inner: " + "; ".join(inner_ops)) if inner_ops else "")
    elif op == "sizes":
        m = rng.choice(ms) if rng.random() < 0.3 else wm
        v = rng.choice(big + [rng.randrange(len(m["data"]) + 1)])
        where = rng.choice(["both", "csize", "usize"])
        if where in ("both", "csize"):
            m["csize"] = v & 0xFFFFFFFF
        if where in ("both", "usize"):
            m["usize"] = v & 0xFFFFFFFF
        what = "sizes %s %s=%#x" % (m["name"][:20], where, v & 0xFFFFFFFF)
    elif op == "zip64member":
        m = rng.choice(ms) if rng.random() < 0.3 else wm
        z64 = {"usize": rng.choice(big + [len(m["data"])] * 4), "csize": rng.choice(big + [len(m["data"])] * 4),
               "sat_usize": rng.random() < 0.8, "sat_csize": rng.random() < 0.8, "sat_lho": rng.random() < 0.5}
        if z64["sat_lho"]:
            z64["lho"] = rng.choice([None, 0, 1 << 40, (1 << 64) - 1, len(data)])
            if z64["lho"] is None:
                del z64["lho"]
        if rng.random() < 0.2:
            z64["declared_len"] = rng.choice([0, 4, 7, 100, 0xFFFF])
        m["zip64"] = z64
        what = "zip64member %s %r" % (m["name"][:20], z64)
    elif op == "zip64eocd":
        zz = {}
        for key in ("entries", "cd_size", "cd_off", "record"):
            if rng.random() < 0.35:
                zz[key] = rng.choice(big + [1, 2, 3])
        kw["zip64_eocd"] = zz or True
        what = "zip64eocd %r" % zz
    elif op == "rename":
        m = rng.choice(ms)
        new = rng.choice(MEMBER_NAMES)
        if rng.random() < 0.3:
            m["lname"] = new
            what = "rename local %s -> %r" % (m["name"][:20], new[:40])
        else:
            what = "rename %s -> %r" % (m["name"][:20], new[:40])
            m["name"] = new
    elif op == "swap" and len(ms) > 1:
        a, b = rng.sample(range(len(ms)), 2)
        if rng.random() < 0.5:
            ms[a]["data"], ms[b]["data"] = ms[b]["data"], ms[a]["data"]
            what = "swap data %s <-> %s" % (ms[a]["name"], ms[b]["name"])
        else:
            ms[a]["name"], ms[b]["name"] = ms[b]["name"], ms[a]["name"]
            what = "swap names %s <-> %s" % (ms[a]["name"], ms[b]["name"])
    elif op == "drop":
        m = rng.choice(ms)
        ms.remove(m)
        what = "drop %s" % m["name"]
    elif op == "dup":
        m = rng.choice(ms)
        m2 = dict(m)
        if rng.random() < 0.5:
            m2["data"] = rng.choice([b"", b"{}", m["data"][: len(m["data"]) // 2]])
        ms.insert(rng.randrange(len(ms) + 1), m2)
        what = "duplicate member %s" % m["name"]
    elif op == "reorder":
        rng.shuffle(ms)
        what = "reorder"
    elif op == "method":
        m = rng.choice(ms) if rng.random() < 0.5 else wm
        c = rng.choice(["claim8", "real8", "real8-claim0", "weird"])
        if c == "claim8":
            m["method"] = 8
        elif c == "real8":
            co = zlib.compressobj(6, zlib.DEFLATED, -15)
            m["usize"] = len(m["data"])
            m["data"] = co.compress(m["data"]) + co.flush()
            m["method"] = 8
        elif c == "real8-claim0":
            co = zlib.compressobj(6, zlib.DEFLATED, -15)
            m["data"] = co.compress(m["data"]) + co.flush()
            m["method"] = 0
        else:
            m["method"] = rng.choice([1, 9, 12, 14, 93, 99, 0xFFFF])
        what = "method %s %s" % (m["name"], c)
    elif op == "crossformat":
        m = wm
        choices = [c for c in (ctx.get("other_h5"), ctx.get("legacy_h5"), data, ctx.get("json_index")) if c]
        m["data"] = rng.choice(choices) if choices else b""
        what = "crossformat weights member replaced (%d bytes)" % len(m["data"])
    elif op == "json":
        jm = [m for m in ms if m["name"] in (b"config.json", b"metadata.json")]
        m = rng.choice(jm) if jm else ms[0]
        m["data"], jops = mutate_json_bytes(m["data"], rng, index=False)
        what = "json %s %s" % (m["name"], jops)
    elif op == "prefix":
        pre = rng.choice([b"\x00" * 100, b"MZ" + b"\x00" * 510, HDF5_SIG * 8, b"PK\x03\x04" + b"\x00" * 26])
        kw["prefix"] = pre
        what = "prefix %d bytes (offsets not adjusted)" % len(pre)
    elif op == "comment":
        c = rng.choice(["long", "fake-eocd", "lenlie"])
        if c == "long":
            kw["comment"] = b"c" * 65535
        elif c == "fake-eocd":
            kw["comment"] = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, 46, 0, 0)
        else:
            kw["comment"] = b"hi"
            kw["cd_comment_len"] = rng.choice([0, 100, 0xFFFF])
        what = "comment %s" % c
    elif op == "extra":
        m = rng.choice(ms) if rng.random() < 0.3 else wm
        ex = rng.choice([b"\x01\x00\x10\x00" + b"\xff" * 16, b"\x01\x00\xff\xff", b"\x55\x54\x05\x00\x01abcd",
                         b"\x00" * 3, b"\x01\x00\x08\x00" + struct.pack("<Q", 1 << 63)])
        if rng.random() < 0.5:
            m["lextra"] = ex
        else:
            m["cextra"] = ex
        what = "extra %s %r" % (m["name"], ex[:8])
    elif op == "lho":
        m = rng.choice(ms) if rng.random() < 0.3 else wm
        m["lho_override"] = rng.choice([0, 1, 30, len(data) - 30, len(data), 0xFFFFFFFF, 0xFFFFFFF0])
        what = "local header offset %s -> %#x" % (m["name"], m["lho_override"])
    out = zip_build(ms, **kw)
    return out, ["zip " + what]


# --------------------------------------------------------------------------------------------
# JSON tampering (shard indexes, config.json, metadata.json).

RAW_TOKENS = ["1e999", "-1e999", "NaN", "Infinity", "-0", "123456789012345678901234567890", "1E-999999",
              "00", "0x10", "+1", ".5", "1.", "\"\\ud800\"", "\"\\u0000\"", "\"\\uDBFF\\uDFFF\"", "true false",
              "[1,]", "{\"a\":1,}", "\"\u2028\"", "nul", "\"" + "\\" * 3 + "\""]
SHARD_NAMES = ["../pretrained_00000.weights.h5", "/etc/passwd", "/work/main/samples/k3/pretrained.weights.h5", ".", "..",
               "", "x\x00y", "pretrained_00000.weights.h5/", " pretrained_00000.weights.h5",
               "pretrained_00000.weights.h5\n", "a\nb.weights.h5", "y" * 300, "\u00fc.weights.h5",
               "pretrained.weights.json", "sub", "..\\x", "~", "C:\\x.h5", "\\\\server\\share", "%2e%2e%2fx",
               "pretrained_00000.WEIGHTS.H5", "nonexistent_00009.weights.h5"]


def json_paths(v, path=(), out=None, limit=400):
    if out is None:
        out = []
    if len(out) >= limit:
        return out
    out.append(path)
    if isinstance(v, dict):
        for k, x in v.items():
            json_paths(x, path + (k,), out, limit)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            json_paths(x, path + (i,), out, limit)
    return out


def json_get(v, path):
    for p in path:
        v = v[p]
    return v


def json_set(root, path, value):
    if not path:
        return value
    json_get(root, path[:-1])[path[-1]] = value
    return root


def weird_json_value(rng, raws):
    c = rng.random()
    if c < 0.3:
        tok = rng.choice(RAW_TOKENS)
    elif c < 0.45:
        depth = rng.choice([100, 1000, 5000, 20000, 100000])
        o, cl = rng.choice([("[", "]"), ("{\"a\":", "}")])
        tok = o * depth + "1" + cl * depth
    else:
        return rng.choice([None, True, False, 0, -1, 1.5, 1e308, -1e308, 2 ** 63, 2 ** 64, -(2 ** 63) - 1, 10 ** 30,
                           "", "x" * rng.choice([10, 70000]), [], {}, [[]], {"": ""}, "\x00", "../x", "/etc/passwd",
                           [1, 2, 3], {"class_name": None}, "a\nb", ["a", 1, None], {"x": [{}] * 3}])
    key = "@@RAW%d@@" % len(raws)
    raws[key] = tok
    return key


def json_dump_with_raws(v, raws, indent):
    text = json.dumps(v, indent=indent, ensure_ascii=False)
    for k, tok in raws.items():
        text = text.replace('"%s"' % k, tok)
    return text


def mutate_json_bytes(data: bytes, rng: random.Random, index=True) -> tuple[bytes, str]:
    try:
        doc = json.loads(data)
    except Exception:
        doc = None
    r = rng.random()
    if doc is None or r < 0.25:  # textual
        d = bytearray(data)
        c = rng.choice(["flip", "truncate", "bom", "utf16", "trailing", "dupkey", "insert", "nul"])
        if c == "flip" and d:
            for _ in range(rng.choice([1, 2, 4])):
                d[rng.randrange(len(d))] ^= 1 << rng.randrange(8)
        elif c == "truncate":
            del d[rng.randrange(len(d) + 1):]
        elif c == "bom":
            d[0:0] = b"\xef\xbb\xbf"
        elif c == "utf16":
            d = bytearray(bytes(d).decode("utf-8", "replace").encode(rng.choice(["utf-16", "utf-16-le", "utf-32"])))
        elif c == "trailing":
            d += rng.choice([b"garbage", b"\x00", b"{}", b"]", b"\n\n"])
        elif c == "dupkey" and d.rstrip().endswith(b"}"):
            i = d.rindex(b"}")
            d[i:i] = b', "weight_map": {"/x/vars": ["nonexistent_1.weights.h5"]}, "metadata": 7'
        elif c == "insert" and d:
            i = rng.randrange(len(d))
            d[i:i] = rng.choice(RAW_TOKENS).encode()
        elif c == "nul" and d:
            d[rng.randrange(len(d))] = 0
        return bytes(d), "text-" + c
    raws = {}
    ops = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        paths = json_paths(doc)
        c = rng.random()
        if index and isinstance(doc, dict) and isinstance(doc.get("weight_map"), dict) and doc["weight_map"] and c < 0.5:
            wm = doc["weight_map"]
            k = rng.choice(list(wm.keys()))
            sub = rng.choice(["shardname", "shardname", "type", "key", "many", "manyshards", "addshard", "bare"])
            if sub == "shardname":
                vals = wm[k] if isinstance(wm[k], list) else [wm[k]]
                if vals:
                    vals[rng.randrange(len(vals))] = rng.choice(SHARD_NAMES)
                wm[k] = vals
            elif sub == "type":
                wm[k] = weird_json_value(rng, raws)
            elif sub == "key":
                newk = rng.choice(["", "/", "layers/conv2d/vars", "/../../etc", "/layers/conv2d", "/layers/nope/vars",
                                   "/layers/conv2d/vars/0", "/x\x00y", "/" + "a/" * 500 + "vars", "//layers//dense//vars",
                                   "/layers/dense\n/vars", "/optimizer/vars"])
                wm[newk] = wm.pop(k)
            elif sub == "many":
                n = rng.choice([1000, 10000, 40000])
                shard = (wm[k] if isinstance(wm[k], list) and wm[k] else ["x"])[0]
                for i in range(n):
                    wm["/layers/l%d/vars" % i] = [shard]
            elif sub == "manyshards":
                n = rng.choice([1000, 5000, 20000, 40000])
                wm[k] = ["s%06d.weights.h5" % i for i in range(n)]
            elif sub == "addshard":
                vals = wm[k] if isinstance(wm[k], list) else [wm[k]]
                vals.append(rng.choice(list({s for v in wm.values() if isinstance(v, list) for s in v
                                             if isinstance(s, str)} or {"x"})))
                wm[k] = vals
            else:
                wm[k] = wm[k][0] if isinstance(wm[k], list) and wm[k] else wm[k]
            ops.append("weight_map[%s].%s" % (k, sub))
        elif index and isinstance(doc, dict) and c < 0.6:
            sub = rng.choice(["no-weight_map", "no-metadata", "total_size", "root-array"])
            if sub == "no-weight_map":
                doc.pop("weight_map", None)
            elif sub == "no-metadata":
                doc.pop("metadata", None)
            elif sub == "total_size":
                doc.setdefault("metadata", {})
                if isinstance(doc["metadata"], dict):
                    doc["metadata"]["total_size"] = weird_json_value(rng, raws)
            else:
                doc = [doc]
            ops.append(sub)
        else:
            p = rng.choice(paths)
            sub = rng.choice(["replace", "replace", "delete", "dupe-key", "rename-key"])
            try:
                if sub == "replace" or not p:
                    doc = json_set(doc, p, weird_json_value(rng, raws))
                elif sub == "delete":
                    parent = json_get(doc, p[:-1])
                    del parent[p[-1]]
                elif sub == "dupe-key":
                    parent = json_get(doc, p[:-1])
                    if isinstance(parent, list):
                        parent.insert(p[-1], parent[p[-1]])
                    else:
                        parent[str(p[-1]) + "_"] = parent[p[-1]]
                else:
                    parent = json_get(doc, p[:-1])
                    if isinstance(parent, dict):
                        parent[rng.choice(["", "a\nb", "\x00", "class_name", "name", "layers", "config"])] = parent.pop(p[-1])
            except Exception:
                pass
            ops.append("%s@%s" % (sub, "/".join(map(str, p))[:60]))
    try:
        text = json_dump_with_raws(doc, raws, rng.choice([None, 4]))
    except Exception:
        text = json.dumps(doc)
    return text.encode("utf-8", "surrogatepass"), ",".join(ops)


# --------------------------------------------------------------------------------------------
# Seeds and mutants. A mutant is {"files": {relname: bytes | ("symlink", target) | ("dir",) |
# ("fifo",)}, "main": relname, "ops": [...], "seed": seed-name}.


class Seed:
    def __init__(self, root: Path, path: Path):
        self.path = path
        self.rel = str(path.relative_to(root))
        if path.is_dir():
            self.kind = "sharded"
            self.files = {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}
            self.main = next(n for n in self.files if n.endswith(".weights.json"))
        else:
            data = path.read_bytes()
            self.files = {path.name: data}
            self.main = path.name
            self.kind = "keras" if data[:4] == b"PK\x03\x04" else "h5"
        self.ext = ext_of(self.main)


def ext_of(name: str) -> str:
    for e in (".weights.json", ".weights.h5", ".keras", ".h5", ".json"):
        if name.endswith(e):
            return e
    return os.path.splitext(name)[1] or ".bin"


def load_seeds(samples: Path, seed_dirs) -> list[Seed]:
    seeds = []
    for sd in seed_dirs:
        p = samples / sd
        if not p.exists():
            continue
        if any(x.name.endswith(".weights.json") for x in p.iterdir() if x.is_file()):
            seeds.append(Seed(samples, p))
            continue
        for f in sorted(p.iterdir()):
            if f.is_file() and f.suffix in (".h5", ".keras"):
                seeds.append(Seed(samples, f))
    return seeds


def make_mutant(seeds: list[Seed], rng: random.Random) -> dict:
    # A third of the time pick the shard set, the .keras seeds and the .h5 seeds alike, so every
    # layout gets attention however many files of each kind the samples hold.
    kinds = defaultdict(list)
    for s in seeds:
        kinds[s.kind].append(s)
    kind = weighted(rng, [(k, {"h5": 45, "keras": 35, "sharded": 20}[k]) for k in kinds])
    seed = rng.choice(kinds[kind])
    h5s = [s for s in seeds if s.kind == "h5"]
    other_seed = rng.choice(h5s) if h5s else None
    other = other_seed.files[other_seed.main] if other_seed else None
    ctx = {"other_h5": other, "legacy_h5": other,
           "json_index": next((s.files[s.main] for s in seeds if s.kind == "sharded"), None)}
    files = dict(seed.files)
    main = seed.main
    ops = []
    if seed.kind == "h5":
        files[main], ops = mutate_hdf5_bytes(files[main], rng, other)
    elif seed.kind == "keras":
        files[main], ops = mutate_keras(files[main], rng, ctx)
        if rng.random() < 0.1:
            files[main], more = mutate_keras(files[main], rng, ctx)
            ops += more
    else:
        shards = sorted(n for n in files if n != main)
        r = rng.random()
        if r < 0.4:
            files[main], jops = mutate_json_bytes(files[main], rng, index=True)
            ops.append("index " + jops)
        elif r < 0.75:
            for _ in range(rng.choice([1, 1, 2])):
                s = rng.choice(shards)
                files[s], sops = mutate_hdf5_bytes(files[s], rng, other)
                ops.append("shard %s: %s" % (s, "; ".join(sops)))
        else:
            c = rng.choice(["missing", "empty", "swap", "dupcontent", "cross", "dir", "symlink", "symlink"])
            if rng.random() < 0.02:
                c = "fifo"  # a known hang (open() blocks); rare so it does not eat the time budget
            s = rng.choice(shards)
            if c == "missing":
                del files[s]
            elif c == "empty":
                files[s] = b""
            elif c == "swap" and len(shards) > 1:
                a, b = rng.sample(shards, 2)
                files[a], files[b] = files[b], files[a]
                s = "%s<->%s" % (a, b)
            elif c == "dupcontent":
                files[s] = files[rng.choice(shards)]
            elif c == "cross":
                pool = [x for x in seeds if x.kind != "sharded"]
                src = rng.choice(pool)
                files[s] = src.files[src.main] if rng.random() < 0.8 else files[main]
                s += " <- " + (src.rel)
            elif c == "dir":
                files[s] = ("dir",)
            elif c == "symlink":
                files[s] = ("symlink", rng.choice(["/dev/null", "/dev/zero", s, "nowhere", "/", "/proc/self/mem"]))
                s += " -> " + files[s][1]
            elif c == "fifo":
                files[s] = ("fifo",)
            ops.append("folder %s %s" % (c, s))
            if rng.random() < 0.3:
                files[main], jops = mutate_json_bytes(files[main], rng, index=True)
                ops.append("index " + jops)
    # keep crashers small: a mutant never grows past 2 MiB per file
    for n, v in list(files.items()):
        if isinstance(v, (bytes, bytearray)) and len(v) > 2 << 20:
            files[n] = bytes(v[: 2 << 20])
            ops.append("capped %s" % n)
    return {"files": files, "main": main, "ops": ops, "seed": seed.rel, "kind": seed.kind,
            "seed_path": seed.path}


def write_mutant(mutant: dict, folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    for name, v in mutant["files"].items():
        p = folder / name
        if isinstance(v, tuple):
            if v[0] == "symlink":
                os.symlink(v[1], p)
            elif v[0] == "dir":
                p.mkdir()
            elif v[0] == "fifo":
                os.mkfifo(p)
        else:
            p.write_bytes(v)


def snapshot(folder: Path) -> dict:
    snap = {}
    for p in sorted(folder.iterdir()):
        if p.is_symlink():
            snap[p.name] = "symlink:" + os.readlink(p)
        elif p.is_fifo():
            snap[p.name] = "fifo"
        elif p.is_dir():
            snap[p.name] = "dir:" + ",".join(sorted(os.listdir(p)))
        else:
            st = p.stat()
            snap[p.name] = "%s:%o" % (sha256(p.read_bytes()), st.st_mode)
    return snap


# --------------------------------------------------------------------------------------------
# Running the binary and judging the result.

CFG: dict = {}


def set_limits():
    mem = CFG.get("mem_limit", 0)
    if mem:
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_one(argv, cwd: Path, timeout: float, want_attach_stack=False):
    out_path, err_path = cwd / "stdout", cwd / "stderr"
    env = dict(os.environ)
    env["SWIFT_BACKTRACE"] = "enable=no"
    if CFG.get("tmpdir"):
        env["TMPDIR"] = str(CFG["tmpdir"])
    t0 = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                             start_new_session=True)
    deadline = t0 + timeout
    timed_out = False
    stack = None
    sleep = 0.001
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            timed_out = True
            if want_attach_stack:
                stack = gdb_attach_stack(p.pid)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            pid, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(sleep)
        sleep = min(sleep * 1.5, 0.02)
    p.returncode = 0  # reaped by us; keep Popen.__del__ quiet
    elapsed = time.monotonic() - t0
    if os.WIFSIGNALED(status):
        rc, sig = None, os.WTERMSIG(status)
    else:
        rc, sig = os.WEXITSTATUS(status), None
    with open(err_path, "rb") as fh:
        stderr = fh.read(1 << 16)
    with open(out_path, "rb") as fh:
        stdout_head = fh.read(1 << 16)
    return {"argv": argv, "rc": rc, "signal": None if timed_out else sig, "timeout": timed_out, "time": elapsed,
            "stderr": stderr, "stdout": stdout_head, "maxrss_kb": ru.ru_maxrss, "stack": stack}


def gdb_attach_stack(pid):
    try:
        r = subprocess.run(["gdb", "-q", "-batch", "-nx", "-p", str(pid), "-ex", "set pagination off",
                            "-ex", "thread apply all bt 40"], capture_output=True, timeout=60)
        return demangle(r.stdout.decode("utf-8", "replace"))
    except Exception as exc:
        return "gdb attach failed: %s" % exc


def gdb_run_stack(argv, cwd):
    env = dict(os.environ)
    env["SWIFT_BACKTRACE"] = "enable=no"
    try:
        r = subprocess.run(["gdb", "-q", "-batch", "-nx", "-ex", "set pagination off", "-ex", "set confirm off",
                            "-ex", "handle SIGPIPE nostop noprint", "-ex", "run", "-ex", "bt 40", "--args"] + argv,
                           capture_output=True, timeout=120, cwd=cwd, env=env, stdin=subprocess.DEVNULL)
        return demangle(r.stdout.decode("utf-8", "replace"))
    except Exception as exc:
        return "gdb failed: %s" % exc


def demangle(text):
    try:
        r = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input=text.encode(),
                           capture_output=True, timeout=30)
        if r.returncode == 0 and r.stdout:
            return r.stdout.decode("utf-8", "replace")
    except Exception:
        pass
    return text


SKIP_FRAME = re.compile(r"^(__GI_|__pthread|pthread_kill|raise|abort|__libc|_?_?assert|__memmove|__memcpy|__memset|"
                        r"__strlen|__strn?cmp|__mem|__str|swift_|_swift|\$ss|Swift\._assertionFailure|"
                        r"_assertionFailure|Swift\._fatalErrorMessage|_fatalErrorMessage|closure #\d+ in Swift|"
                        r"\?\?|Swift\.|__GI___)")


def frames_of(stack: str) -> list[str]:
    frames = []
    for line in (stack or "").splitlines():
        m = re.match(r"#\d+\s+(?:0x[0-9a-f]+ in )?(.+?) \(", line.strip())
        if m:
            frames.append(m.group(1).strip())
        elif re.match(r"#\d+\s+0x[0-9a-f]+ in \?\? \(\)", line.strip()):
            frames.append("??")
    return frames


def main_thread(stack: str) -> str:
    """The 'Thread 1' part of a 'thread apply all bt', else the whole text."""
    i = (stack or "").find("Thread 1 (")
    return stack[i:] if i >= 0 else (stack or "")


def stack_key(stack: str, with_top=True) -> str:
    """top non-libc frame | first public libhdf5 API frame | first frame in our Sources/."""
    text = main_thread(stack)
    frames = []
    for line in text.splitlines():
        m = re.match(r"#\d+\s+(?:0x[0-9a-f]+ in )?(.+?) \((.*)$", line.strip())
        if m:
            frames.append((m.group(1).strip(), m.group(2)))
    if not frames:
        return ""
    top = next((f for f, _ in frames if not SKIP_FRAME.match(f)), frames[0][0])
    api = next((f for f, _ in frames if re.match(r"^H5[A-Z]{1,3}[a-z][A-Za-z0-9_]*$", f)), "-")
    ours = "-"
    for f, loc in frames:
        m = re.search(r"Sources/(\w+)/(\w+\.swift)", loc)
        if m and not f.startswith("specialized static Library.locked"):
            ours = "%s (%s)" % (re.sub(r"^(specialized |closure #\d+ in )+", "", f)[:80], m.group(2))
            break
    parts = ([top] if with_top else []) + [api, ours]
    return " | ".join(parts)


def top_of_stack(stack: str, n=3) -> str:
    stack = main_thread(stack)
    frames = frames_of(stack)
    picked = [f for f in frames if not SKIP_FRAME.match(f)]
    first = frames[0] if frames else "?"
    top = picked[:n]
    return " < ".join(([first] if first not in top else []) + top)[:300]


def judge(res) -> list[tuple[str, str]]:
    """Contract violations of one run: (kind, detail)."""
    v = []
    err = res["stderr"].decode("utf-8", "replace")
    lines = err.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if res["timeout"]:
        v.append(("timeout", "no exit after %.0f s" % CFG.get("timeout", 10)))
    elif res["signal"] is not None:
        v.append(("signal", SIGNAL_NAMES.get(res["signal"], "signal %d" % res["signal"])))
    elif res["rc"] not in (0, 1, 2):
        v.append(("exitcode", "exit code %d" % res["rc"]))
    both = err + res["stdout"].decode("utf-8", "replace")
    if re.search(r"HDF5-DIAG|^\s*#\d{3}: .*H5|^\s+major: |^\s+minor: ", both, re.M):
        v.append(("hdf5diag", "libhdf5 printed diagnostics"))
    if not v:
        if res["rc"] == 2:
            if len(lines) != 1:
                v.append(("stderr", "exit 2 with %d stderr lines" % len(lines)))
            elif not lines[0].startswith(ERROR_PREFIX):
                v.append(("stderr", "exit 2 without the error prefix"))
        elif res["rc"] in (0, 1):
            # allowed: warnings, and the one summary line that non-table formats send to stderr
            bad = [ln for ln in lines if not ln.startswith("weightdrift: warning: ")]
            summary = [ln for ln in bad if re.match(r"(PASS|FAIL)\b", ln)]
            if len(bad) > 1 or (bad and not summary):
                v.append(("stderr", "exit %d with stray stderr (%d unexpected lines)" % (res["rc"], len(bad))))
    return v


def commands_for(mutant_main: str, seed_main: str, rng: random.Random):
    cmds = [["inspect", mutant_main], ["inspect", "--stats", mutant_main], ["compare", seed_main, mutant_main]]
    r = rng.random()
    if r < 0.35:
        cmds.append(["compare", mutant_main, seed_main])
    elif r < 0.45:
        cmds.append(["compare", seed_main, mutant_main, "--format", rng.choice(["json", "markdown", "junit", "github"])])
    elif r < 0.5:
        cmds.append(["inspect", "--format", "json", mutant_main])
    return cmds


# --------------------------------------------------------------------------------------------
# Worker


def worker_init(cfg, stop_event):
    CFG.update(cfg)
    CFG["stop"] = stop_event
    CFG["seeds"] = load_seeds(Path(cfg["pristine"]), cfg["seed_dirs"])
    CFG["workdir"] = Path(cfg["workroot"]) / ("w%d" % os.getpid())
    CFG["workdir"].mkdir(parents=True, exist_ok=True)
    CFG["tmpdir"] = CFG["workdir"] / "tmp"
    CFG["tmpdir"].mkdir(exist_ok=True)
    CFG["stack_counts"] = Counter()
    CFG["timeout_keys"] = Counter()
    set_limits()  # inherited by every weightdrift (and gdb) run of this worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def mutant_for(index: int):
    rng = random.Random("%d:%d" % (CFG["seed"], index))
    mutant = make_mutant(CFG["seeds"], rng)
    return mutant, rng


def process(index: int):
    if CFG["stop"].is_set():
        return {"index": index, "skipped": True}
    try:
        return _process(index)
    except Exception:
        return {"index": index, "error": traceback.format_exc()}


MUTANT = "@MUTANT@"


def plan(index: int, seeds_root: str):
    """Mutant `index`, the seed it is compared with, and its commands (MUTANT stands for its path)."""
    mutant, rng = mutant_for(index)
    seed_path = Path(seeds_root) / mutant["seed"]
    seed_main = str(seed_path / Path(mutant["main"]).name) if mutant["kind"] == "sharded" else str(seed_path)
    # sometimes compare against a different seed
    if rng.random() < 0.1:
        other = rng.choice(CFG["seeds"])
        seed_main = str(Path(seeds_root) / other.rel / (other.main if other.kind == "sharded" else ""))
        seed_main = seed_main.rstrip("/")
    return mutant, seed_main, commands_for(MUTANT, seed_main, rng)


def _process(index: int):
    mutant, seed_main, commands = plan(index, CFG["pristine"])
    work = CFG["workdir"] / "cur"
    if work.exists():
        shutil.rmtree(work)
    mdir = work / "m"
    write_mutant(mutant, mdir)
    before = snapshot(mdir)
    mpath = str(mdir / mutant["main"])
    runs = []
    violations = []
    paths = [(mpath, "M"), (str(mdir), "MDIR"), (CFG["pristine"], "SEEDS")]
    timed_out_again = False
    for args in [[mpath if a == MUTANT else a for a in c] for c in commands]:
        if timed_out_again:
            break
        argv = [CFG["binary"]] + args
        res = run_one(argv, work, CFG["timeout"], want_attach_stack=True)
        runs.append({"args": args, "rc": res["rc"], "signal": res["signal"], "timeout": res["timeout"],
                     "time": res["time"], "maxrss_kb": res["maxrss_kb"]})
        left = sorted(os.listdir(CFG["tmpdir"]))
        if left:
            for name in left:
                p = CFG["tmpdir"] / name
                shutil.rmtree(p) if p.is_dir() else p.unlink()
            if not res["timeout"] and res["signal"] is None:
                violations.append({"kind": "tempfile", "detail": "left %d file(s) in TMPDIR: %s" % (len(left), left[0][:60]),
                                   "key": ["tempfile", re.sub(r"[0-9A-Fa-f-]{8,}", "X", left[0])], "args": args,
                                   "stderr_first": res["stderr"].decode("utf-8", "replace").split("\n")[0][:400],
                                   "stderr_lines": 0, "stack": None, "rc": res["rc"], "signal": None,
                                   "time": res["time"], "maxrss_kb": res["maxrss_kb"]})
        for kind, detail in judge(res):
            err = res["stderr"].decode("utf-8", "replace")
            first = err.split("\n")[0] if err else ""
            stack = res["stack"]
            if kind == "signal" and CFG["stack_counts"]["gdb"] < CFG.get("max_gdb_runs", 600):
                CFG["stack_counts"]["gdb"] += 1  # a crash is re-run under gdb for its stack (a few seconds)
                stack = gdb_run_stack(argv, work)
            if kind == "hdf5diag":
                m = re.search(r"#000: .*? in (\S+)\(\): (.*)", err)
                tail = "%s: %s" % (m.group(1), normalise_message(m.group(2), paths)) if m else first
                key = (kind, tail[:160])
            elif kind == "signal":
                sk = stack_key(stack) if stack else ""
                key = (kind, detail, sk or ("no stack: " + message_skeleton(first, paths)))
            elif kind == "timeout":
                key = (kind, detail, stack_key(stack, with_top=False) if stack else "no stack")
            elif kind == "stderr" and len(err.splitlines()) > 1:
                last = err.rstrip("\n").split("\n")[-1]
                key = (kind, re.sub(r"\d+ (stderr|unexpected) lines", "several lines", detail),
                       message_skeleton(first, paths) + " ... " + message_skeleton(last, paths))
            else:
                key = (kind, detail, message_skeleton(first, paths))
            if kind == "timeout":
                CFG["timeout_keys"][key] += 1
                timed_out_again = CFG["timeout_keys"][key] > 1
            violations.append({"kind": kind, "detail": detail, "key": list(key), "args": args,
                               "stderr_first": first[:400], "stderr_lines": len(err.splitlines()),
                               "stack": stack, "rc": res["rc"], "signal": res["signal"], "time": res["time"],
                               "maxrss_kb": res["maxrss_kb"]})
        if res["maxrss_kb"] > CFG.get("rss_report_kb", 2 << 20) and not res["timeout"] and res["signal"] is None:
            violations.append({"kind": "memory", "detail": "max RSS %d MiB" % (res["maxrss_kb"] >> 10),
                               "key": ["memory", args[0] + (" --stats" if "--stats" in args else ""),
                                       message_skeleton(res["stderr"].decode("utf-8", "replace").split("\n")[0], paths)],
                               "args": args, "stderr_first": res["stderr"].decode("utf-8", "replace").split("\n")[0][:400],
                               "stderr_lines": 0, "stack": None, "rc": res["rc"], "signal": None,
                               "time": res["time"], "maxrss_kb": res["maxrss_kb"]})
    after = snapshot(mdir)
    if after != before:
        changed = sorted(set(before) ^ set(after) | {k for k in before if before.get(k) != after.get(k)})
        violations.append({"kind": "modified", "detail": "input changed: %s" % ",".join(changed), "args": ["(all)"],
                           "key": ["modified", ",".join(sorted(set(ext_of(c) for c in changed)))],
                           "stderr_first": "", "stderr_lines": 0, "stack": None, "rc": None, "signal": None,
                           "time": 0, "maxrss_kb": 0})
    result = {"index": index, "seed": mutant["seed"], "kind": mutant["kind"], "ops": mutant["ops"], "runs": runs,
              "violations": violations, "main": mutant["main"], "seed_main": seed_main}
    if violations:
        result["files"] = {k: v for k, v in mutant["files"].items()}
    return result


# --------------------------------------------------------------------------------------------
# Crasher store


class CrasherStore:
    def __init__(self, out: Path, max_saved: int, per_kind: int):
        self.out = out
        self.max_saved = max_saved
        self.per_kind = per_kind
        self.out.mkdir(parents=True, exist_ok=True)
        self.index_path = out / "index.json"
        self.entries = []
        if self.index_path.exists():
            try:
                self.entries = json.loads(self.index_path.read_text())
            except Exception:
                self.entries = []
        self.keys = {tuple(e["key"]): e for e in self.entries}
        self.by_key = Counter()

    def add(self, result, v, run_info):
        key = tuple(v["key"])
        self.by_key[key] += 1
        if key in self.keys:
            self.keys[key]["hits"] = self.keys[key].get("hits", 1) + 1
            return None
        saved_kind = sum(1 for e in self.entries if e["kind"] == v["kind"])
        cap = 4 if v["kind"] == "memory" else self.per_kind
        if len(self.entries) >= self.max_saved or saved_kind >= cap:
            return None
        files = result["files"]
        main = result["main"]
        blob = b"".join(n.encode() + (x if isinstance(x, bytes) else repr(x).encode()) for n, x in sorted(files.items()))
        sha8 = sha256(files[main] if isinstance(files.get(main), bytes) else blob)[:8]
        kind_name = v["kind"] if v["kind"] != "signal" else v["detail"].lower()
        if result["kind"] == "sharded":
            name = "%s-%s.shards" % (kind_name, sha8)
            dest = self.out / name
            if dest.exists():
                shutil.rmtree(dest)
            plain = {k: x for k, x in files.items() if not isinstance(x, tuple)}
            specials = {k: list(x) for k, x in files.items() if isinstance(x, tuple)}
            main_data = plain.pop(main, None)
            write_mutant({"files": plain}, dest)
            if main_data is not None:
                (dest / "index.weights.json").write_bytes(main_data)
            if specials:  # FIFOs and odd links are described; fuzz.py --verify recreates them
                (dest / "SPECIALS.json").write_text(json.dumps(specials, indent=1))
            target = "%s/index.weights.json" % name
        else:
            name = "%s-%s%s" % (kind_name, sha8, ext_of(main))
            (self.out / name).write_bytes(files[main])
            target = name
        seed_arg = result["seed_main"].replace(run_info["pristine"] + "/", "samples/")
        args = [a.replace(run_info["pristine"] + "/", "samples/") if a.startswith(run_info["pristine"]) else
                ("crashers/" + target) if a.startswith(run_info["workroot"]) else a
                for a in v["args"]]
        entry = {"file": name, "kind": v["kind"], "detail": v["detail"], "key": list(key), "hits": 1,
                 "command": "weightdrift " + " ".join(args), "seed": result["seed"], "ops": result["ops"],
                 "stderr_first": v["stderr_first"], "stderr_lines": v["stderr_lines"], "rc": v["rc"],
                 "time": round(v["time"], 2), "maxrss_kb": v["maxrss_kb"],
                 "top_of_stack": top_of_stack(v["stack"]) if v.get("stack") else "",
                 "stack": (v.get("stack") or "")[-6000:], "replay": "--seed %d --replay %d" % (run_info["seed"], result["index"]),
                 "seed_compared": seed_arg}
        self.entries.append(entry)
        self.keys[key] = entry
        self.write()
        return entry

    def write(self):
        self.index_path.write_text(json.dumps(self.entries, indent=1, ensure_ascii=False))
        lines = ["# WeightDrift fuzz crashers", "",
                 "Inputs that broke the CLI contract (exit 0/1/2 within 10 s, no signal, no libhdf5 output,",
                 "one `weightdrift: error:` line on bad input, inputs untouched). Written by `tools/fuzz/fuzz.py`;",
                 "`index.json` has the full record (stack, mutation, replay arguments). Paths in commands are",
                 "relative to `tools/fuzz/` for crashers and to the repository for `samples/`.", ""]
        for e in self.entries:
            what = e["detail"]
            if e["kind"] == "signal":
                what = "killed by %s" % e["detail"]
            elif e["kind"] == "timeout":
                what = "timeout (killed after 10 s)"
            elif e["kind"] == "memory":
                what = "not a contract violation: %s" % e["detail"]
            first = re.sub(r"/tmp/wd-(?:fuzz-run|verify)-[^/\s]+/(?:w\d+/cur/)?m/", "<mutant dir>/", e["stderr_first"])
            first = first.replace("`", "'").replace("|", "\\|")
            lines.append("- `%s` — `%s` → %s; exit %s; stderr first line: `%s`%s; seen %d× ; mutation: %s (seed `%s`); "
                         "replay: %s" % (
                             e["file"], e["command"], what, "—" if e["rc"] is None else e["rc"], first[:200] or "(empty)",
                             ("; top of stack: `%s`" % e["top_of_stack"]) if e["top_of_stack"] else "",
                             e.get("hits", 1), "; ".join(e["ops"])[:300].replace("`", "'"), e["seed"],
                             ("`fuzz.py %s`" % e["replay"]) if e.get("replayable", True)
                             else "n/a (%s)" % e.get("replay_note", "no replay"))
                         + ("" if "reproduces" not in e else "; re-run with `%s`: %s" % (e.get("verified_with", "?"),
                             ", ".join("%s → %s" % (r["command"].replace("weightdrift ", "").split(" crashers/")[0]
                                                     .split(" samples/")[0], r["outcome"]) for r in e["verified"]))))
        (self.out / "README.md").write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------
# Verification: run every saved crasher again from its file, with the commands its mutation had


def outcome(res) -> str:
    if res["timeout"]:
        return "timeout"
    if res["signal"] is not None:
        return SIGNAL_NAMES.get(res["signal"], "signal %d" % res["signal"])
    return "exit %d" % res["rc"]


def binary_commit(binary: str) -> str:
    """The commit of the clone a binary was built in (…/<clone>/.build/…), or the path."""
    build = next((p for p in Path(binary).resolve().parents if p.name == ".build"), None)
    if build:
        r = subprocess.run(["git", "-C", str(build.parent), "log", "-1", "--format=%h %s"], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.strip()[:80]
    return binary


def verify(args, samples: Path, seed_dirs) -> int:
    out = Path(args.out)
    entries = json.loads((out / "index.json").read_text())
    CFG.update(binary=str(Path(args.binary).resolve()), timeout=args.timeout,
               mem_limit=int(args.mem_limit_gb * (1 << 30)) if args.mem_limit_gb else 0)
    CFG["seeds"] = load_seeds(samples, seed_dirs)
    work = Path(tempfile.mkdtemp(prefix="wd-verify-"))
    CFG["tmpdir"] = work / "tmp"
    CFG["tmpdir"].mkdir()
    set_limits()
    for e in entries:
        m = re.match(r"--seed (\d+) --replay (\d+)", e["replay"]) if e.get("replayable", True) else None
        if m:
            CFG["seed"] = int(m.group(1))
            mutant, seed_main, commands = plan(int(m.group(2)), str(samples))
        else:  # no replay: the standard commands, compared with the seed it came from
            seed = next((x for x in CFG["seeds"] if x.rel == e["seed"]), CFG["seeds"][0])
            mutant = {"files": {}, "main": seed.main}
            seed_main = str(samples / seed.rel / (seed.main if seed.kind == "sharded" else ""))
            seed_main = seed_main.rstrip("/")
            commands = [["inspect", MUTANT], ["inspect", "--stats", MUTANT], ["compare", seed_main, MUTANT]]
        src = out / e["file"]
        mdir = work / "m"
        if mdir.exists():
            shutil.rmtree(mdir)
        if src.is_dir():
            shutil.copytree(src, mdir, symlinks=True)
            if (mdir / "index.weights.json").exists() and mutant["main"] != "index.weights.json":
                (mdir / "index.weights.json").rename(mdir / mutant["main"])
            sp = mdir / "SPECIALS.json"
            if sp.exists():
                specials = json.loads(sp.read_text())
                sp.unlink()
                write_mutant({"files": {k: tuple(v) for k, v in specials.items()}}, mdir)
            rel = "crashers/%s/index.weights.json" % e["file"]
            same = all(isinstance(v, tuple) or (mdir / k).read_bytes() == v for k, v in mutant["files"].items()
                       if (mdir / k).exists() or not isinstance(v, tuple))
        else:
            mdir.mkdir()
            shutil.copy2(src, mdir / mutant["main"])
            rel = "crashers/%s" % e["file"]
            same = src.read_bytes() == mutant["files"].get(mutant["main"])
        before = snapshot(mdir)
        mpath = str(mdir / mutant["main"])
        results = []
        for c in commands:
            argv = [CFG["binary"]] + [mpath if a == MUTANT else a for a in c]
            res = run_one(argv, work, CFG["timeout"])
            kinds = [k for k, _ in judge(res)]
            if os.listdir(CFG["tmpdir"]):
                for name in os.listdir(CFG["tmpdir"]):
                    p = CFG["tmpdir"] / name
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
                if not res["timeout"] and res["signal"] is None:
                    kinds.append("tempfile")
            if res["maxrss_kb"] > (2 << 20) and not res["timeout"] and res["signal"] is None:
                kinds.append("memory")
            shown = " ".join(rel if a == MUTANT else a.replace(str(samples) + "/", "samples/") for a in c)
            results.append({"command": "weightdrift " + shown, "outcome": outcome(res), "violations": kinds,
                            "stderr_first": res["stderr"].decode("utf-8", "replace").split("\n")[0][:300],
                            "time": round(res["time"], 2), "maxrss_kb": res["maxrss_kb"]})
        if snapshot(mdir) != before:
            results.append({"command": "(all)", "outcome": "input modified", "violations": ["modified"]})
        e["verified"] = results
        e["verified_with"] = binary_commit(CFG["binary"])
        e["replay_matches_file"] = bool(same) if m else None
        hits = [r for r in results if e["kind"] in r["violations"]]
        e["reproduces"] = bool(hits)
        if hits:
            e["command"] = hits[0]["command"]
        print("%-40s %-9s %s" % (e["file"], "REPRO" if hits else "no-repro",
                                 "; ".join("%s -> %s" % (r["command"].split(" crashers/")[0], r["outcome"]) for r in results)))
    store = CrasherStore(out, args.max_crashers, args.max_per_kind)
    store.entries = entries
    store.write()
    shutil.rmtree(work, ignore_errors=True)
    return 0


# --------------------------------------------------------------------------------------------
# Main


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=DEFAULT_BINARY)
    ap.add_argument("--samples", default="",
                    help="seed folder (default: the samples/ of the clone the binary was built in, so seeds and "
                         "binary come from one commit; else this repository's samples/)")
    ap.add_argument("--seed-dirs", default=",".join(DEFAULT_SEED_DIRS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--start", type=int, default=0, help="first mutation index (to continue a run)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--time-limit", type=float, default=0, help="stop after this many seconds (0: none)")
    ap.add_argument("--mem-limit-gb", type=float, default=8.0, help="address-space limit per run (0: none)")
    ap.add_argument("--out", default=str(HERE / "crashers"))
    ap.add_argument("--max-crashers", type=int, default=30)
    ap.add_argument("--max-per-kind", type=int, default=14)
    ap.add_argument("--fresh", action="store_true", help="delete earlier crashers first")
    ap.add_argument("--stats-json", default="", help="write the summary as JSON here")
    ap.add_argument("--replay", type=int, default=None, help="only write mutant INDEX (with --seed) and exit")
    ap.add_argument("--replay-dir", default="")
    ap.add_argument("--verify", action="store_true",
                    help="run every crasher in --out again (commands re-derived from its replay arguments) and "
                         "record whether it still breaks the contract")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not args.samples:
        build = next((p for p in Path(args.binary).resolve().parents if p.name == ".build"), None)
        clone = build.parent / "samples" if build else None
        args.samples = str(clone if clone and clone.is_dir() else REPO / "samples")
    samples = Path(args.samples).resolve()
    seed_dirs = [s for s in args.seed_dirs.split(",") if s]
    if args.verify:
        return verify(args, samples, seed_dirs)
    if args.replay is not None:
        CFG.update(seed=args.seed)
        CFG["seeds"] = load_seeds(samples, seed_dirs)
        mutant, _ = mutant_for(args.replay)
        dest = Path(args.replay_dir or tempfile.mkdtemp(prefix="wd-replay-"))
        write_mutant(mutant, dest)
        print("seed: %s\nmutations: %s\nmutant: %s" % (mutant["seed"], "; ".join(mutant["ops"]), dest / mutant["main"]))
        return 0
    binary = str(Path(args.binary).resolve())
    if not os.access(binary, os.X_OK):
        print("fuzz: no executable at %s (build it first, see tools/fuzz/README.md)" % binary, file=sys.stderr)
        return 2
    workroot = Path(tempfile.mkdtemp(prefix="wd-fuzz-run-"))
    pristine = workroot / "seeds"
    for sd in seed_dirs:
        src = samples / sd
        if src.exists():
            dst = pristine / sd
            dst.mkdir(parents=True, exist_ok=True)
            for f in src.iterdir():
                if f.is_file():
                    shutil.copy2(f, dst / f.name)
    seed_hashes = {str(p): sha256(p.read_bytes()) for p in pristine.rglob("*") if p.is_file()}
    out = Path(args.out)
    if args.fresh and out.exists():
        shutil.rmtree(out)
    store = CrasherStore(out, args.max_crashers, args.max_per_kind)
    cfg = {"binary": binary, "seed": args.seed, "timeout": args.timeout, "pristine": str(pristine),
           "seed_dirs": seed_dirs, "workroot": str(workroot),
           "mem_limit": int(args.mem_limit_gb * (1 << 30)) if args.mem_limit_gb else 0}
    CFG.update(cfg)
    loaded = load_seeds(pristine, seed_dirs)
    nseeds = len(loaded)
    empty = [sd for sd in seed_dirs if not any(s.rel == sd or s.rel.startswith(sd + "/") for s in loaded)]
    if empty:
        print("fuzz: no seeds in %s under %s" % (", ".join(empty), samples), file=sys.stderr)
        return 2
    print("fuzz: binary %s, %d seeds from %s, seed %d, mutations %d..%d, %d workers, work dir %s" % (
        binary, nseeds, samples, args.seed, args.start, args.start + args.count - 1, args.workers, workroot), flush=True)

    stop = mp.get_context("fork").Event()
    t0 = time.monotonic()
    stats = {"mutations": 0, "runs": 0, "exit": Counter(), "violations": Counter(), "violating_mutants": Counter(),
             "by_seed_kind": defaultdict(Counter), "by_mutator": defaultdict(Counter), "errors": 0,
             "slow": [], "maxrss": [], "distinct": Counter()}
    ctx = mp.get_context("fork")
    pool = ctx.Pool(args.workers, initializer=worker_init, initargs=(cfg, stop))
    interrupted = False

    def on_sigint(signum, frame):  # finish the mutations in flight, then print the summary
        nonlocal interrupted
        interrupted = True
        stop.set()
    signal.signal(signal.SIGINT, on_sigint)
    signal.signal(signal.SIGTERM, on_sigint)
    try:
        for res in pool.imap_unordered(process, range(args.start, args.start + args.count), chunksize=2):
            if res.get("skipped"):
                continue
            if "error" in res:
                stats["errors"] += 1
                if stats["errors"] <= 5:
                    print("fuzz: internal error on mutation %d:\n%s" % (res["index"], res["error"]), file=sys.stderr)
                continue
            stats["mutations"] += 1
            first_op = res["ops"][0] if res["ops"] else "none"
            mut_family = ("h5py" if first_op.startswith("h5py") else
                          re.match(r"[a-z_:-]*", first_op.split(" ")[0].replace("msg0x", "msg")).group(0).rstrip(":") or "other")
            if mut_family in ("zip", "inner-inplace", "inner-rebuilt", "h5py", "folder", "index") and " " in first_op:
                mut_family += " " + re.match(r"[a-z0-9_-]*", first_op.split(" ")[1]).group(0)
            for r in res["runs"]:
                stats["runs"] += 1
                label = ("timeout" if r["timeout"] else SIGNAL_NAMES.get(r["signal"], str(r["signal"]))
                         if r["signal"] is not None else "exit %d" % r["rc"])
                stats["exit"][label] += 1
                stats["by_seed_kind"][res["kind"]][label] += 1
                stats["by_mutator"][mut_family][label] += 1
                if r["time"] > 3:
                    stats["slow"].append((round(r["time"], 2), res["index"], " ".join(r["args"][:2])))
                stats["maxrss"].append((r["maxrss_kb"], res["index"], r["args"][0]))
            kinds = set()
            for v in res["violations"]:
                stats["violations"][v["kind"]] += 1
                stats["distinct"][tuple(v["key"])] += 1
                kinds.add(v["kind"])
                saved = store.add(res, v, {"pristine": str(pristine), "workroot": str(workroot), "seed": args.seed})
                if saved:
                    print("fuzz: NEW %s %s -> %s (%s)" % (v["kind"], v["detail"], saved["file"],
                                                         v["stderr_first"][:100] or saved["top_of_stack"][:100]),
                          flush=True)
            for k in kinds:
                stats["violating_mutants"][k] += 1
            stats["maxrss"] = sorted(stats["maxrss"], reverse=True)[:5]
            if stats["mutations"] % 500 == 0:
                el = time.monotonic() - t0
                print("fuzz: %d mutations, %d runs, %.1f/s, violations %s" % (
                    stats["mutations"], stats["runs"], stats["mutations"] / el, dict(stats["violations"])), flush=True)
            if args.time_limit and time.monotonic() - t0 > args.time_limit and not stop.is_set():
                print("fuzz: time limit reached, finishing the mutations in flight", flush=True)
                stop.set()
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
    finally:
        pool.close()
        pool.join()
    elapsed = time.monotonic() - t0
    # seeds (pristine copies) and the repository samples must be untouched
    modified_seeds = [p for p, h in seed_hashes.items() if not Path(p).exists() or sha256(Path(p).read_bytes()) != h]
    modified_samples = []  # the binary only ever sees the private copies; samples/ may be edited by others meanwhile
    summary = {
        "binary": binary, "seed": args.seed, "elapsed_s": round(elapsed, 1), "mutations": stats["mutations"],
        "runs": stats["runs"], "exit_codes": dict(stats["exit"].most_common()),
        "violating_runs_by_kind": dict(stats["violations"]), "violating_mutants_by_kind": dict(stats["violating_mutants"]),
        "distinct_violations": len(stats["distinct"]), "crashers_saved": len(store.entries),
        "internal_errors": stats["errors"], "modified_seed_copies": modified_seeds, "modified_samples": modified_samples,
        "by_seed_kind": {k: dict(v) for k, v in stats["by_seed_kind"].items()},
        "by_mutator": {k: dict(v) for k, v in sorted(stats["by_mutator"].items())},
        "slowest_runs": sorted(stats["slow"], reverse=True)[:10], "max_rss_kb": stats["maxrss"][:5],
        "distinct_keys": [{"key": list(k), "count": c} for k, c in stats["distinct"].most_common()],
    }
    print("\n==== summary ====")
    print("mutations run: %d   runs: %d   time: %.0f s   (%s)" % (
        summary["mutations"], summary["runs"], elapsed, "interrupted" if interrupted else "complete"))
    print("exit codes: " + ", ".join("%s: %d" % kv for kv in stats["exit"].most_common()))
    for k, v in summary["by_seed_kind"].items():
        print("  %-8s %s" % (k, ", ".join("%s: %d" % kv for kv in sorted(v.items()))))
    print("violations (runs): " + (", ".join("%s: %d" % kv for kv in stats["violations"].most_common()) or "none"))
    print("violations (mutants): " + (", ".join("%s: %d" % kv for kv in stats["violating_mutants"].most_common()) or "none"))
    print("distinct violations: %d; crashers saved: %d in %s" % (len(stats["distinct"]), len(store.entries), out))
    for k, c in stats["distinct"].most_common(40):
        print("  %5d  %s" % (c, " | ".join(k)[:220]))
    print("inputs modified: %s" % ("none" if not (modified_seeds or modified_samples or stats["violations"]["modified"])
                                   else "YES: %d mutants, seeds %s, samples %s" % (
                                       stats["violations"]["modified"], modified_seeds, modified_samples)))
    print("slowest runs: %s" % summary["slowest_runs"][:5])
    print("largest max RSS (KiB): %s" % summary["max_rss_kb"][:3])
    if stats["errors"]:
        print("fuzzer internal errors: %d" % stats["errors"])
    if args.stats_json:
        Path(args.stats_json).write_text(json.dumps(summary, indent=1, default=str))
    shutil.rmtree(workroot, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
