"""JSON tampering (shard indexes, config.json, metadata.json)."""

from __future__ import annotations

import json
import random


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
