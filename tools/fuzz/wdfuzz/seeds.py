"""Seeds and mutants. A mutant is {"files": {relname: bytes | ("symlink", target) | ("dir",) |
("fifo",)}, "main": relname, "ops": [...], "seed": seed-name}."""

from __future__ import annotations

import os
import random
from collections import defaultdict
from pathlib import Path

from .mutate_hdf5 import mutate_hdf5_bytes, weighted
from .mutate_json import mutate_json_bytes
from .mutate_safetensors import mutate_safetensors
from .mutate_zip import mutate_keras
from .util import sha256


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
            self.kind = ("keras" if data[:4] == b"PK\x03\x04" else
                         "safetensors" if path.suffix == ".safetensors" else "h5")
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
            if f.is_file() and f.suffix in (".h5", ".keras", ".safetensors"):
                seeds.append(Seed(samples, f))
    return seeds


def make_mutant(seeds: list[Seed], rng: random.Random) -> dict:
    # A third of the time pick the shard set, the .keras seeds and the .h5 seeds alike, so every
    # layout gets attention however many files of each kind the samples hold.
    kinds = defaultdict(list)
    for s in seeds:
        kinds[s.kind].append(s)
    kind = weighted(rng, [(k, {"h5": 40, "keras": 30, "sharded": 15, "safetensors": 15}[k]) for k in kinds])
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
    elif seed.kind == "safetensors":
        files[main], ops = mutate_safetensors(files[main], rng)
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
