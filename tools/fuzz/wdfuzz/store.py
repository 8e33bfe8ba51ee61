"""Crasher store: the distinct violations, saved as files with crashers/index.json and README.md."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

from .runner import top_of_stack
from .seeds import ext_of, write_mutant
from .util import sha256


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
