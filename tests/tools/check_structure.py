#!/usr/bin/env python3
"""Checks the code's structure rules (docs/hacking.md, docs/architecture.md).

1. Layers: every library includes only headers of the libraries below it.
2. Memory: no bare malloc/calloc/realloc/strdup/strndup/asprintf outside
   gateway/base/mem.c; everything allocates through gmb_malloc and friends,
   which abort on exhaustion (so no call site checks for NULL or forgets to).

The layers (docs/architecture.md, "Layers"): each folder is one library and
may use the libraries listed for it, and whatever those may use. A quoted
#include is resolved to the folder holding that header; an include of a
library that is not allowed fails the check, as does a gmb_* target in a
CMakeLists.txt linking a library it may not use.

  check_structure.py REPO        check the tree, exit 1 on a violation
  check_structure.py --self-test REPO
                                 copy the tree, add a forbidden include, a
                                 forbidden link and a bare malloc, and fail
                                 unless all three are caught
"""
import os
import re
import shutil
import sys
import tempfile

# library folder -> (CMake target, the libraries it uses directly)
LAYERS = {
    "gateway/base": ("gmb_base", []),
    "proto": ("gmb_proto", []),
    "gateway/rev2": ("gmb_rev2", ["gateway/base", "proto"]),
    "config": ("gmb_config", ["gateway/base"]),
    "fusefs/store": ("gmb_store", ["gateway/rev2"]),
    "fusefs/view": ("gmb_view", ["fusefs/store"]),
    "gateway/wire": ("gmb_wire", ["gateway/base", "proto"]),
    "gateway/goma": ("gmb_goma", ["gateway/wire", "fusefs/view", "config"]),
    "gateway/exec": ("gmb_exec", ["gateway/goma"]),
    "gateway/cli": ("gmb_cli", ["gateway/exec"]),
    "gateway/cc": ("gmb_cc", ["gateway/wire"]),
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
BARE_ALLOC = re.compile(r"(?<![\w.>])(malloc|calloc|realloc|strdup|strndup|v?asprintf)\s*\(")
ALLOC_HOME = "gateway/base/mem.c"
LINK = re.compile(r"target_link_libraries\(\s*(\S+)\s+(?:PUBLIC|PRIVATE|INTERFACE)?([^)]*)\)", re.S)


def allowed(lib):
    """The library itself and everything below it."""
    seen, todo = set(), [lib]
    while todo:
        cur = todo.pop()
        if cur not in seen:
            seen.add(cur)
            todo.extend(LAYERS[cur][1])
    return seen


def header_owners(repo):
    """header name -> library folder, for our own headers."""
    owners = {}
    for lib in LAYERS:
        top = os.path.join(repo, lib)
        for name in sorted(os.listdir(top)) if os.path.isdir(top) else []:
            if name.endswith(".h"):
                if name in owners:
                    raise SystemExit(f"header {name} is in both {owners[name]} and {lib}: names must be unique")
                owners[name] = lib
    return owners


def strip_comments(text):
    """Blanks out comments and string literals, keeping line numbers."""
    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))
    return re.sub(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"', blank, text, flags=re.S)


def check(repo):
    problems = []
    owners = header_owners(repo)
    target_of = {t: lib for lib, (t, _) in LAYERS.items()}
    for lib, (target, _) in LAYERS.items():
        ok = allowed(lib)
        top = os.path.join(repo, lib)
        for name in sorted(os.listdir(top)):
            path = os.path.join(top, name)
            if name.endswith((".c", ".h")):
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                if f"{lib}/{name}" != ALLOC_HOME:
                    for lineno, line in enumerate(strip_comments(text).split("\n"), 1):
                        m = BARE_ALLOC.search(line)
                        if m:
                            problems.append(f"{lib}/{name}:{lineno}: bare {m.group(1)}(); use gmb_{m.group(1)} "
                                            "(gateway/base/mem.h) or gmb_format")
                for inc in INCLUDE.findall(text):
                    owner = "proto" if inc.endswith(".pb-c.h") else owners.get(os.path.basename(inc))
                    if owner is None:
                        problems.append(f"{lib}/{name}: includes \"{inc}\", which no library provides")
                    elif owner not in ok:
                        problems.append(f"{lib}/{name}: includes \"{inc}\" from {owner}, "
                                        f"which {lib} may not use")
            elif name == "CMakeLists.txt":
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                for who, deps in LINK.findall(text):
                    if who not in target_of:
                        continue
                    for dep in deps.split():
                        dep_lib = target_of.get(dep)
                        if dep_lib is not None and dep_lib not in allowed(target_of[who]):
                            problems.append(f"{lib}/CMakeLists.txt: {who} links {dep} ({dep_lib}), "
                                            f"which {target_of[who]} may not use")
    return problems


def self_test(repo):
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "repo")
        for lib in LAYERS:
            if os.path.isdir(os.path.join(repo, lib)):
                shutil.copytree(os.path.join(repo, lib), os.path.join(copy, lib))
        if check(copy):
            print("self-test: the unchanged tree already fails", file=sys.stderr)
            return 1
        with open(os.path.join(copy, "fusefs/store/cas_index.c"), "a", encoding="utf-8") as f:
            f.write('\n#include "exec_pipeline.h"\n')
        with open(os.path.join(copy, "gateway/rev2/CMakeLists.txt"), "a", encoding="utf-8") as f:
            f.write("\ntarget_link_libraries(gmb_rev2 PUBLIC gmb_goma)\n")
        with open(os.path.join(copy, "gateway/goma/auth.c"), "a", encoding="utf-8") as f:
            f.write("\nstatic void *leaky(void) { return malloc(3); }\n")
        found = check(copy)
        want = ["cas_index.c: includes \"exec_pipeline.h\"", "gmb_rev2 links gmb_goma", "auth.c:"]
        missing = [w for w in want if not any(w in p for p in found)]
        if missing:
            print(f"self-test: not caught: {missing}; found: {found}", file=sys.stderr)
            return 1
        print(f"self-test: all three violations caught ({len(found)} problems)")
        return 0


def main(argv):
    if len(argv) == 3 and argv[1] == "--self-test":
        return self_test(argv[2])
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    problems = check(argv[1])
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s): see docs/architecture.md (layers) and docs/hacking.md (memory)",
              file=sys.stderr)
        return 1
    print(f"structure holds: {len(LAYERS)} libraries, layers and memory policy")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
