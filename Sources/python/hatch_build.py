"""Puts the self-contained binary into the wheel and tags the wheel with its glibc floor.

tools/build-dist writes DIST (default ../../.build-dist/weightdrift, or $WEIGHTDRIFT_DIST):
  bin/weightdrift       the executable (Swift runtime static, rpath $ORIGIN/../lib/weightdrift)
  lib/weightdrift/*.so* every shared library it needs but glibc (libhdf5 is linked in)
  glibc-floor           e.g. "2.36", the highest GLIBC_x.y symbol version any of them needs
Both go inside the package as weightdrift/_dist/bin and weightdrift/_dist/lib/weightdrift, the
same relative layout, so the rpath holds wherever pip puts the package (venv, --user, --prefix,
--target). `weightdrift` on PATH is a console script that execs the binary.
"""

import os
import pathlib

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class DistHook(BuildHookInterface):
    def initialize(self, version, build_data):
        if self.target_name != "wheel":
            return
        root = pathlib.Path(self.root)
        dist = pathlib.Path(os.environ.get("WEIGHTDRIFT_DIST", root / "../../.build-dist/weightdrift")).resolve()
        binary = dist / "bin" / "weightdrift"
        floor_file = dist / "glibc-floor"
        if not binary.is_file() or not floor_file.is_file():
            raise RuntimeError(f"{dist}: no self-contained binary; run tools/build-dist first")
        major, minor = floor_file.read_text().strip().split(".")
        build_data["pure_python"] = False
        build_data["tag"] = f"py3-none-manylinux_{int(major)}_{int(minor)}_x86_64"
        build_data["force_include"][str(binary)] = "weightdrift/_dist/bin/weightdrift"
        for lib in sorted((dist / "lib" / "weightdrift").iterdir()):
            build_data["force_include"][str(lib)] = f"weightdrift/_dist/lib/weightdrift/{lib.name}"
        # The published JSON Schemas of the reports (Sources/Report/Schemas), for validating them.
        schemas = (root / "../Report/Schemas").resolve()
        for schema in sorted(schemas.glob("*.schema.json")):
            build_data["force_include"][str(schema)] = f"weightdrift/schemas/{schema.name}"
