"""Zip (.keras) parsing, building and tampering."""

from __future__ import annotations

import random
import struct
import zlib

from .hdf5map import HDF5_SIG
from .mutate_hdf5 import mutate_hdf5_bytes
from .mutate_json import mutate_json_bytes
from .util import interesting_value, put_int, u16, u32


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
