"""h5py rewrites: valid HDF5 with unusual content (cycles, huge shapes, odd dtypes, links,
names). Skipped when h5py or numpy is missing."""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile


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
