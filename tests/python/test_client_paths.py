"""Client paths on the worker (integration: needs the local cluster).

The worker builds each action in a fresh directory of its own, so a client
path in the arguments (CMake gives absolute sources and -I directories)
must be turned into the worker's, and debug info must name the client's
paths again. Here the client directory does not exist while the worker
compiles (on this machine the worker shares the file system, which would
otherwise hide a path that was not rewritten); afterwards the same files
are written at those paths and compiled locally, and the objects must be
identical byte for byte: with absolute sources and -I, with -g (the
compile directory in DW_AT_comp_dir), with __FILE__, with a client's own
-ffile-prefix-map as Debian's build flags add, for gcc and clang, on both
instance names. So must the dependency files (-MD as CMake, autotools and
kbuild ask for them), which name the client's files for make and ninja."""
import os
import re
import shutil
import subprocess
import uuid

import pytest

import gmb_serve
from test_goma_exec import call, exec_req

INSTANCES = ["hardlinking", "fuse"]

HEADER = b'#define ANSWER 42\nstatic inline const char *where(void) { return __FILE__; }\n'
SOURCE = b'#include "answer.h"\n#include <stdio.h>\nint main(void) { printf("%s %d %s\\n", __FILE__, ANSWER, where()); return 0; }\n'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from gmb_serve.serving(tmp_path_factory.mktemp("client_paths"),
                                 "mount = { enabled = false; };\ngoma = { share_through_buildbarn = false; };")


def exec_once(gg, port, instance, compiler, cwd, files, args, outputs):
    req = exec_req(gg, cwd, files, args, outputs)
    req.command_spec.name = compiler
    resp = call(gg, port, req, instance)  # checked against the goma client's rules
    assert resp.result.exit_status == 0, resp.result.stderr_buffer.decode(errors="replace")
    outs = {o.filename: o.blob.content for o in resp.result.output}
    assert sorted(outs) == sorted(outputs), list(outs)
    return outs


def make_rules(text):
    """A dependency file as make and ninja read it: each rule's words.
    Where gcc breaks a line depends on the paths' lengths, and a worker's
    path is longer than the client's, so the bytes may differ where the
    rules do not. An escaped space stays inside its word."""
    joined = text.decode().replace("\\\n", " ")
    return [re.split(r"(?<!\\)\s+", line.strip()) for line in joined.splitlines() if line.strip()]


# How build systems ask for a dependency file: (flags, the file's name).
DEPS = {
    "cmake": (["-MD", "-MT", "main.o", "-MF", "main.o.d"], "main.o.d"),
    "autotools": (["-MD"], "main.d"),  # named after -o
    "kbuild": (["-Wp,-MMD,.main.o.d"], ".main.o.d"),
    "source": (["-MMD"], "main.d"),  # no -o: named after the source, in the working directory
}

CASES = {
    # name: (compiler, extra flags, absolute source and -I (CMake) or relative (autotools), dependency file,
    #        where -o writes (OUTPUTS))
    "gcc": ("gcc", [], True, "cmake", "relative"),
    "gcc -g": ("gcc", ["-g", "-O2"], True, "kbuild", "relative"),
    "gcc -g relative": ("gcc", ["-g", "-O2"], False, "autotools", "relative"),
    "gcc -g Debian flags": ("gcc", ["-g", "-O2", "-ffile-prefix-map={root}=.", "-fstack-protector-strong"], True,
                            "autotools", "relative"),
    "clang -g": ("clang", ["-g"], True, "cmake", "relative"),
    "gcc -g absolute -o": ("gcc", ["-g"], True, "autotools", "absolute"),
    "clang absolute -o": ("clang", [], False, "cmake", "absolute"),
    "gcc -o in a sibling directory": ("gcc", ["-g"], True, "autotools", "absolute sibling"),
    "gcc -o ../obj": ("gcc", [], False, "cmake", "climbing"),
    "gcc -MMD without -o": ("gcc", ["-g"], True, "source", "none"),
}

# Where -o writes: the client names the output so, and the answer must too.
OUTPUTS = {
    "relative": "main.o",
    "absolute": "{cwd}/main.o",  # below the working directory
    "absolute sibling": "{root}/obj/main.o",  # the Command's output path climbs: ../obj/main.o
    "climbing": "../obj/main.o",
    "none": "main.o",  # no -o: the source's name in the working directory
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("instance", INSTANCES)
def test_absolute_paths_and_debug_info_match_a_local_compile(gg, server, instance, case):
    compiler, extra, absolute, deps, where = CASES[case]
    if shutil.which(compiler) is None:
        pytest.fail(compiler + " is not installed (scripts/install-deps.sh installs it)")
    root = "/tmp/gomabarn-client-%s" % uuid.uuid4().hex[:12]
    assert not os.path.exists(root)
    cwd = root + "/build"
    src = SOURCE + b"/* %s %s %s */\n" % (instance.encode(), case.encode(), uuid.uuid4().hex.encode())
    files = {root + "/include/answer.h": HEADER, root + "/src/main.c": src}
    flags = [f.format(root=root) for f in extra]
    top = root if absolute else ".."
    deps_flags, deps_file = DEPS[deps]
    # The answer names the object as the client gave it, and a dependency
    # file named after it likewise.
    obj = OUTPUTS[where].format(root=root, cwd=cwd)
    if deps == "autotools":
        deps_file = obj[:-2] + ".d"
    args = [compiler, "-c", "-I" + top + "/include"] + flags + deps_flags + [top + "/src/main.c"]
    args += ["-o", obj] if where != "none" else []
    outputs = [obj, deps_file]
    remote = exec_once(gg, server[0], instance, compiler, cwd, files, args, outputs)
    try:
        for name, data in files.items():
            os.makedirs(os.path.dirname(name), exist_ok=True)
            open(name, "wb").write(data)
        os.makedirs(cwd)
        os.makedirs(root + "/obj", exist_ok=True)
        subprocess.run(args, cwd=cwd, check=True)
        local = {name: open(os.path.join(cwd, name), "rb").read() for name in outputs}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert make_rules(remote[deps_file]) == make_rules(local[deps_file]), (
        "the dependency file says other things than a local compile's", remote[deps_file], local[deps_file])
    assert remote[obj] == local[obj], "the remote object differs from a local compile in %s" % cwd
    remote = remote[obj]
    # The client's paths are in it (debug info, __FILE__), the worker's are not.
    if absolute and "-ffile-prefix-map" not in " ".join(flags):
        assert (root + "/src/main.c").encode() in remote
    assert os.environ.get("GOMABARN_BB_DIR", "/tmp/gomabarn-bb").encode() not in remote
    assert os.environ.get("GOMABARN_BB_DIR", "/tmp/gomabarn-bb").encode() not in local[deps_file]


@pytest.mark.parametrize("output", ["{cwd}", "{cwd}/sub/.."])
def test_an_output_that_is_the_working_directory_is_a_bad_request_naming_it(gg, server, output):
    """An absolute output anywhere is served (relative to the working
    directory, climbing with .. when it lies elsewhere), but not one that
    names the working directory or a directory holding it: refused before
    anything reaches Buildbarn (the client then compiles locally), with its
    name in the message."""
    root = "/tmp/gomabarn-client-%s" % uuid.uuid4().hex[:12]
    cwd = root + "/build"
    output = output.format(root=root, cwd=cwd)
    files = {root + "/src/main.c": b"int main(void) { return 0; }\n"}
    req = exec_req(gg, cwd, files, ["gcc", "-c", root + "/src/main.c", "-o", output], [output])
    resp = call(gg, server[0], req, "hardlinking")
    assert resp.error == -1  # BAD_REQUEST
    assert any(output in m and "names the working directory" in m for m in resp.error_message), \
        resp.error_message
