#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fails when an #include points upwards between Atrium's layers.

Bottom to top:  common/  <-  embed/  <-  session/  <-  kernel/
with two programs beside them that nothing includes: embed/worker/ (the worker executable, on embed/) and
kernel/main.cpp. A file may include its own folder and any folder below it, never one above; third-party
headers that a layer must not know (xeus, pybind11, Python.h) are refused the same way.

Usage: check_includes.py [ROOT]    (ROOT defaults to the repository)
       check_includes.py --self-test   (shows that a planted upward include is caught)
"""
import pathlib
import re
import sys
import tempfile

# Layer of a folder, most specific prefix first. A program folder has its own name so nothing else may include it.
LAYERS = [("embed/worker/", "worker_program"), ("common/", "common"), ("embed/", "embed"),
          ("session/", "session"), ("kernel/", "kernel")]
# What each layer may include from our own folders.
ALLOWED = {
    "common": {"common"},
    "embed": {"common", "embed"},
    "worker_program": {"common", "embed", "worker_program"},
    "session": {"common", "embed", "session"},
    "kernel": {"common", "embed", "session", "kernel"},
}
# Third-party headers a layer must not see: only kernel/ knows xeus, only embed/ talks to CPython.
FORBIDDEN_SYSTEM = {
    "common": ("xeus/", "pybind11/", "Python.h"),
    "embed": ("xeus/",),
    "worker_program": ("xeus/",),
    "session": ("xeus/", "pybind11/", "Python.h"),
    "kernel": ("pybind11/", "Python.h"),
}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def layer_of(relative):
    for prefix, layer in LAYERS:
        if relative.startswith(prefix):
            return layer
    return None


def problems(root):
    root = pathlib.Path(root)
    found = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".hpp", ".cpp", ".h"):
            continue
        relative = path.relative_to(root).as_posix()
        layer = layer_of(relative)
        if layer is None:
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            match = INCLUDE.match(line)
            if not match:
                continue
            bracket, target = match.groups()
            where = f"{relative}:{number}: {line.strip()}"
            if bracket == '"':
                target_layer = layer_of(target)
                if target_layer is not None and target_layer not in ALLOWED[layer]:
                    found.append(f"{where}  [includes.upward] {layer} may not include {target_layer}")
            elif target.startswith(FORBIDDEN_SYSTEM[layer]):
                found.append(f"{where}  [includes.foreign] {layer} may not include <{target}>")
    return found


def self_test():
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        (root / "embed").mkdir()
        (root / "session").mkdir()
        (root / "embed" / "ok.hpp").write_text('#include "common/zmq_retry.hpp"\n')
        (root / "embed" / "bad.cpp").write_text('#include "session/context_key.hpp"\n')
        (root / "session" / "bad.hpp").write_text("#include <xeus/xinterpreter.hpp>\n")
        found = problems(root)
    if len(found) != 2 or "embed/bad.cpp" not in found[0] or "session/bad.hpp" not in found[1]:
        print("self-test FAILED: expected exactly the two planted violations, got:", *found, sep="\n  ")
        return 1
    print("self-test ok: the planted upward include and foreign include were caught")
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    root = argv[1] if len(argv) > 1 else pathlib.Path(__file__).resolve().parent.parent
    found = problems(root)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} include(s) point the wrong way (layers: common <- embed <- session <- kernel)")
        return 1
    print("includes ok: common <- embed <- session <- kernel, embed/worker/ included by nothing else")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
