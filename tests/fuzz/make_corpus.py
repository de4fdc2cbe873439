#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets: tests/fuzz/corpus/<target>/.

The seeds are real requests and answers: a goma client compiling the
sample program in tests/data/sample (its sources embedded or sent by key,
as gomabarn-cc and goma's compiler_proxy send them, Input and Output as
proto2 groups), the REv2 Actions, Commands, Trees, Operations and Statuses
Buildbarn exchanges for such a compile, gomabarn's example configuration,
and gomabarn-cc command lines. Messages are encoded by hand here,
independently of protobuf-c; when protoc is installed every message is
also decoded by it against our .proto files (a seed that does not decode
is a bug in this script). Each file is named after what it holds and
starts with the bytes its target's header describes (a mode byte, length
prefixes). Run it again after changing a target's input layout:

  python3 tests/fuzz/make_corpus.py            # rewrites corpus/*/ and crashes/*/
                                               # (files of other names are kept)
  python3 tests/fuzz/make_corpus.py --check    # only verifies with protoc

Only Python's standard library is needed.
"""
import gzip
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SAMPLE = os.path.join(REPO, "tests", "data", "sample")
UNTRUSTED = os.path.join(REPO, "tests", "data", "untrusted")
PROTO = os.path.join(REPO, "proto")
REV2 = "build.bazel.remote.execution.v2."

# ---- protobuf wire format -------------------------------------------------


def varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(number, wire):
    return varint(number << 3 | wire)


def f_varint(number, value):
    return key(number, 0) + varint(int(value))


def f_bytes(number, value):
    if isinstance(value, str):
        value = value.encode()
    return key(number, 2) + varint(len(value)) + value


def f_group(number, body):
    """A proto2 group: start tag, the fields, end tag (goma's Input/Output)."""
    return key(number, 3) + body + key(number, 4)


def msg(*parts):
    return b"".join(p for p in parts if p)


def many(number, values):
    return b"".join(f_bytes(number, v) for v in values)


def be32(data):
    return struct.pack(">I", len(data)) + data


def be16(data):
    return struct.pack(">H", len(data)) + data


# ---- REv2 -----------------------------------------------------------------


def digest(blob):
    return msg(f_bytes(1, hashlib.sha256(blob).hexdigest()), f_varint(2, len(blob)) if blob else b"")


def timestamp(seconds, nanos=0):
    return msg(f_varint(1, seconds), f_varint(2, nanos) if nanos else b"")


def duration(seconds, nanos=0):
    return timestamp(seconds, nanos)


def platform(props):
    return msg(*(f_bytes(1, msg(f_bytes(1, k), f_bytes(2, v))) for k, v in props))


LINUX = platform([("OSFamily", "linux"), ("container-image", "docker://ghcr.io/catthehacker/ubuntu:act-22.04")])


def command(args, outputs, env=(("LANG", "C"), ("PATH", "/usr/local/bin:/usr/bin:/bin")), cwd=""):
    return msg(many(1, args),
               *(f_bytes(2, msg(f_bytes(1, k), f_bytes(2, v))) for k, v in env),
               f_bytes(5, LINUX),
               f_bytes(6, cwd) if cwd else b"",
               many(7, outputs))


def action(cmd, root, timeout=900, do_not_cache=False, salt=b""):
    return msg(f_bytes(1, digest(cmd)), f_bytes(2, digest(root)), f_bytes(6, duration(timeout)),
               f_varint(7, 1) if do_not_cache else b"", f_bytes(9, salt) if salt else b"", f_bytes(10, LINUX))


def file_node(name, blob, executable=False):
    return f_bytes(1, msg(f_bytes(1, name), f_bytes(2, digest(blob)), f_varint(4, 1) if executable else b""))


def dir_node(name, child):
    return f_bytes(2, msg(f_bytes(1, name), f_bytes(2, digest(child))))


def symlink_node(name, target):
    return f_bytes(3, msg(f_bytes(1, name), f_bytes(2, target)))


def directory(files=(), dirs=(), symlinks=()):
    """files: (name, blob[, executable]); dirs: (name, Directory bytes)."""
    return msg(*(file_node(*f) for f in sorted(files)),
               *(dir_node(n, d) for n, d in sorted(dirs)),
               *(symlink_node(n, t) for n, t in sorted(symlinks)))


def tree(root, children):
    return msg(f_bytes(1, root), *(f_bytes(2, c) for c in children))


def output_file(path, blob, executable=False, inline=False):
    return f_bytes(2, msg(f_bytes(1, path), f_bytes(2, digest(blob)), f_varint(4, 1) if executable else b"",
                          f_bytes(5, blob) if inline else b""))


def output_directory(path, tree_bytes):
    return f_bytes(3, msg(f_bytes(1, path), f_bytes(3, digest(tree_bytes))))


def output_symlink(path, target):
    return f_bytes(12, msg(f_bytes(1, path), f_bytes(2, target)))


def metadata(worker="bb-worker-0/fuse", start=1714000000):
    return msg(f_bytes(1, worker),
               *(f_bytes(n, timestamp(start + (n - 2) // 2, 1000000 * n)) for n in range(2, 11)),
               f_bytes(12, duration(0, 250000000)))


def action_result(outputs=b"", exit_code=0, stdout=b"", stderr=b"", meta=True):
    return msg(outputs, f_varint(4, exit_code) if exit_code else b"", f_bytes(5, stdout) if stdout else b"",
               f_bytes(7, stderr) if stderr else b"", f_bytes(9, metadata()) if meta else b"")


def any_msg(type_name, value):
    return msg(f_bytes(1, "type.googleapis.com/" + type_name), f_bytes(2, value))


def rpc_status(code, message, missing=()):
    details = b""
    if missing:
        violations = b"".join(f_bytes(1, msg(f_bytes(1, "MISSING"), f_bytes(2, "blobs/%s/%d" % (
            hashlib.sha256(blob).hexdigest(), len(blob))), f_bytes(3, "Blob not found"))) for blob in missing)
        details = f_bytes(3, any_msg("google.rpc.PreconditionFailure", violations))
    return msg(f_varint(1, code), f_bytes(2, message), details)


def operation(name, stage=None, action_bytes=None, done=False, error=None, response=None):
    md = None
    if stage is not None:
        md = any_msg(REV2 + "ExecuteOperationMetadata",
                     msg(f_varint(1, stage), f_bytes(2, digest(action_bytes or b""))))
    return msg(f_bytes(1, name), f_bytes(2, md) if md else b"", f_varint(3, 1) if done else b"",
               f_bytes(4, error) if error is not None else b"",
               f_bytes(5, any_msg(REV2 + "ExecuteResponse", response)) if response is not None else b"")


def execute_response(result=None, cached=False, status=None, message=""):
    return msg(f_bytes(1, result) if result is not None else b"", f_varint(2, 1) if cached else b"",
               f_bytes(3, status) if status is not None else b"", f_bytes(5, message) if message else b"")


# ---- goma ------------------------------------------------------------------

FILE, FILE_META, FILE_CHUNK, FILE_REF = 1, 2, 3, 5


def file_blob(content):
    return msg(f_varint(1, FILE), f_bytes(11, content), f_varint(20, len(content)))


def goma_key(blob):
    return hashlib.sha256(blob).hexdigest()


def command_spec():
    return msg(f_bytes(1, "gcc"), f_bytes(2, "12.2.0"), f_bytes(3, "x86_64-linux-gnu"),
               f_bytes(4, hashlib.sha256(b"/usr/bin/gcc").hexdigest()), f_bytes(6, "/usr/bin/gcc"),
               many(7, ["/usr/lib/gcc/x86_64-linux-gnu/12/include", "/usr/local/include", "/usr/include"]))


def requester_info(request_id="build-host:8088/42", dims=("os:linux",)):
    return msg(f_bytes(1, "10.0.0.7"), f_bytes(2, "builder"), f_bytes(3, request_id), f_varint(4, 2),
               f_varint(5, 31337), f_bytes(8, "gomabarn-cc"), many(10, dims), f_varint(11, 1),
               f_bytes(12, "/home/builder/sample"))


def goma_input(filename, content, embed, as_group=True):
    blob = file_blob(content)
    body = msg(f_bytes(11, filename), f_bytes(12, goma_key(blob)), f_bytes(13, blob) if embed else b"")
    return f_group(10, body) if as_group else f_bytes(10, body)


def exec_req(source, headers, as_group=True, toolchain=False, dims=("os:linux",), policy=1):
    obj = source.replace(".c", ".o")
    inputs = [(source, read_sample(source))] + [(h, read_sample(h)) for h in headers]
    return msg(f_bytes(1, command_spec()),
               many(2, ["gcc", "-O2", "-Wall", "-c", source, "-o", obj]),
               many(3, ["PWD=/home/builder/sample", "LANG=C.UTF-8", "HOME=/home/builder"]),
               f_bytes(4, "/home/builder/sample"),
               *(goma_input(n, c, len(c) < 512, as_group) for n, c in inputs),
               f_bytes(30, requester_info(dims=dims)),
               f_varint(31, policy),
               f_bytes(35, obj),
               f_varint(37, 1) if toolchain else b"",
               f_bytes(38, msg(f_bytes(1, "/usr/bin/gcc"), f_bytes(2, hashlib.sha256(b"gcc").hexdigest()),
                               f_varint(3, 1234568), f_varint(4, 1))) if toolchain else b"")


def exec_result(outputs, exit_status=0, stderr=b"", as_group=True):
    outs = []
    for name, content in outputs:
        body = msg(f_bytes(11, name), f_bytes(12, file_blob(content)), f_varint(13, 0))
        outs.append(f_group(10, body) if as_group else f_bytes(10, body))
    return msg(f_varint(1, exit_status), f_bytes(2, b""), f_bytes(3, stderr) if stderr else b"", *outs)


def exec_resp(result=None, missing=(), errors=(), as_group=True, cache_hit=0):
    return msg(f_bytes(1, result) if result is not None else b"",
               f_varint(2, -1) if errors and not result else b"",
               many(11, missing), many(12, errors), many(15, ["not found in the file index"] * len(missing)),
               f_bytes(21, hashlib.sha256(b"cache key").hexdigest()),
               f_bytes(26, "build-host:8088/42"),
               f_varint(27, cache_hit) if cache_hit else b"",
               f_bytes(81, msg(f_bytes(1, timestamp(1714000000)), f_bytes(2, timestamp(1714000001, 5000)))))


def read_sample(name):
    with open(os.path.join(SAMPLE, name), "rb") as f:
        return f.read()


# A stand-in for an object file: an ELF header and some bytes.
OBJECT = b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x01\x00\x3e\x00" + bytes(range(256)) * 2


# ---- the corpora ------------------------------------------------------------

def goma_wire():
    main_req = exec_req("main.c", ["greet.h"])
    out = {
        "exec_req_main": bytes([0]) + main_req,
        "exec_req_greet": bytes([0]) + exec_req("greet.c", ["greet.h"]),
        "exec_req_sum_by_key": bytes([0]) + exec_req("sum.c", [], dims=("os:linux", "cpu:x86_64")),
        "exec_req_toolchain_included": bytes([0]) + exec_req("main.c", ["greet.h"], toolchain=True, policy=3),
        "exec_req_length_delimited_input": bytes([0]) + exec_req("main.c", ["greet.h"], as_group=False),
        "exec_req_limited": bytes([0x80]) + main_req,
        "exec_resp_object": bytes([1]) + exec_resp(exec_result([("main.o", OBJECT)], stderr=b"main.c:3: warning\n")),
        "exec_resp_missing": bytes([1]) + exec_resp(missing=["greet.h", "/usr/include/stdio.h"]),
        "exec_resp_bad_request": bytes([1]) + exec_resp(errors=["gomabarn: input ../x climbs above /"]),
        "exec_resp_limited": bytes([0x81]) + exec_resp(exec_result([("main.o", OBJECT)])),
        "exec_result_two_outputs": bytes([2]) + exec_result([("main.o", OBJECT), ("main.d", b"main.o: main.c\n")]),
        "to_groups_exec_req": bytes([3]) + exec_req("main.c", ["greet.h"], as_group=False),
        "to_groups_exec_resp": bytes([4]) + exec_resp(exec_result([("main.o", OBJECT)], as_group=False)),
        "to_groups_exec_result": bytes([5]) + exec_result([("sum.o", OBJECT)], as_group=False),
    }
    blobs = [file_blob(read_sample(n)) for n in ("main.c", "greet.c", "greet.h")]
    chunk0 = msg(f_varint(1, FILE_CHUNK), f_varint(10, 0), f_bytes(11, OBJECT))
    chunk1 = msg(f_varint(1, FILE_CHUNK), f_varint(10, 2 << 20), f_bytes(11, b"tail"))
    meta = msg(f_varint(1, FILE_META), f_varint(20, (2 << 20) + 4), many(21, [goma_key(chunk0), goma_key(chunk1)]))
    out["store_file_sources"] = bytes([6]) + msg(many(1, blobs), f_bytes(10, requester_info()))
    out["store_file_chunks"] = bytes([6]) + msg(many(1, [chunk0, chunk1, meta]))
    out["store_file_ref"] = bytes([6]) + msg(f_bytes(1, msg(f_varint(1, FILE_REF), f_bytes(21, goma_key(blobs[0])))))
    out["lookup_file"] = bytes([7]) + msg(many(1, [goma_key(b) for b in blobs] + ["not-a-key"]),
                                          f_bytes(10, requester_info()))
    return out


def goma_files():
    """StoreFile and LookupFile requests as a compile of tests/data/sample
    sends them, one after the other (a kind byte: 0 StoreFile, odd
    LookupFile, 2 a file over 2 MiB sent as chunks, made by the target from
    a flags byte and a tail; a 3-byte length)."""
    def store(body, kind=0):
        return bytes([kind]) + struct.pack(">I", len(body))[1:] + body

    def lookup(keys):
        body = msg(many(1, keys), f_bytes(10, requester_info()))
        return bytes([1]) + struct.pack(">I", len(body))[1:] + body

    def chunked(flags, tail):
        """A chunked file (kind 2) the target runs: one input in 16 is, by
        the FNV-1a hash of the input; the tail is padded until this one is."""
        for pad in range(1024):
            data = store(flags + tail + b"\n" * pad, kind=2)
            h = 2166136261
            for b in data:
                h = ((h ^ b) * 16777619) & 0xFFFFFFFF
            if h % 16 == 0:
                return data
        raise SystemExit("no padding selects the chunked file")

    blobs = [file_blob(read_sample(n)) for n in ("main.c", "greet.c", "greet.h")]
    keys = [goma_key(b) for b in blobs]
    chunk0 = msg(f_varint(1, FILE_CHUNK), f_varint(10, 0), f_bytes(11, OBJECT))
    chunk1 = msg(f_varint(1, FILE_CHUNK), f_varint(10, 2 << 20), f_bytes(11, b"tail"))
    meta = msg(f_varint(1, FILE_META), f_varint(20, (2 << 20) + 4), many(21, [goma_key(chunk0), goma_key(chunk1)]))
    # A FILE_META naming one chunk twice: the second is not at its offset.
    small0 = msg(f_varint(1, FILE_CHUNK), f_varint(10, 0), f_bytes(11, OBJECT))
    small_meta = msg(f_varint(1, FILE_META), f_varint(20, len(OBJECT)), many(21, [goma_key(small0)] * 2))
    ref = msg(f_varint(1, FILE_REF), f_bytes(21, keys[0]))
    refused = [msg(f_varint(1, FILE), f_bytes(11, b"short"), f_varint(20, 99)),  # size differs
               msg(f_varint(1, FILE_META), many(21, [keys[0]])),  # one chunk key
               msg(f_varint(1, FILE_CHUNK), f_varint(10, 5), f_bytes(11, b"x")),  # offset off the layout
               b"\xff\xff"]  # not a FileBlob
    output = file_blob(OBJECT)
    return {
        "sources_then_lookup": store(msg(many(1, blobs), f_bytes(10, requester_info())))
        + lookup(keys + ["not-a-key", hashlib.sha256(b"nobody").hexdigest()]),
        "chunks_then_lookup": store(msg(many(1, [chunk0, chunk1]))) + store(msg(many(1, [meta])))
        + lookup([goma_key(meta), goma_key(chunk0), goma_key(chunk1)]),
        "meta_one_chunk_twice": store(msg(many(1, [small0, small_meta]))) + lookup([goma_key(small_meta)]),
        "ref": store(msg(many(1, [blobs[0]]))) + store(msg(f_bytes(1, ref))) + lookup([goma_key(ref)]),
        "refused_among_good": store(msg(many(1, [blobs[1]] + refused + [blobs[2]]))),
        "stored_twice": store(msg(many(1, [output]))) + store(msg(many(1, [output]))) + lookup([goma_key(output)]),
        "lookup_only": lookup(keys),
        "empty_requests": store(b"") + lookup([]),
        "not_requests": store(b"\x0a\xff\xff\x03") + bytes([1, 0, 0, 3]) + b"\x08\x96\x01",
        "chunked_file": chunked(b"\x20", read_sample("greet.c")),
        "chunked_file_swapped": chunked(b"\x01", read_sample("greet.h")),
    }


def http_body():
    body = exec_req("main.c", ["greet.h"])
    store = msg(many(1, [file_blob(read_sample("greet.c"))]))
    raw = zlib.compress(body)[2:]  # goma's deflate: the zlib header removed
    enc = {"none": 0, "identity": 2, "gzip": 3, "x-gzip": 4, "deflate": 5, "GZIP": 6, "br": 8}
    return {
        "gzip_exec_req": bytes([enc["gzip"], 0]) + gzip.compress(body, mtime=0),
        "gzip_store_file": bytes([enc["x-gzip"], 0]) + gzip.compress(store, mtime=0),
        "gzip_upper_case": bytes([enc["GZIP"], 1]) + gzip.compress(store, mtime=0),
        "deflate_goma_headerless": bytes([enc["deflate"], 0]) + raw,
        "deflate_zlib_stream": bytes([enc["deflate"], 0]) + zlib.compress(body),
        "deflate_exact_limit": bytes([enc["deflate"], 2]) + zlib.compress(body * 2)[2:],
        "deflate_small_limit": bytes([enc["deflate"], 3 | 40 << 2]) + raw,
        "gzip_bomb": bytes([enc["gzip"], 1]) + gzip.compress(bytes(1 << 20), mtime=0),
        "gzip_truncated": bytes([enc["gzip"], 0]) + gzip.compress(body, mtime=0)[:-9],
        "identity_exec_req": bytes([enc["identity"], 0]) + body,
        "identity_no_header": bytes([enc["none"], 2]) + store,
        "unsupported_br": bytes([enc["br"], 0]) + body[:64],
        "accept_encoding_header": bytes([enc["none"], 0]) + b"gzip;q=1.0, deflate, identity;q=0.5",
        "accept_encoding_refused": bytes([enc["none"], 0]) + b"deflate, gzip;q=0",
    }


def rev2_sample():
    """The REv2 side of compiling main.c: input root, Command, Action, outputs."""
    src = directory(files=[("greet.h", read_sample("greet.h")), ("main.c", read_sample("main.c"))])
    root = directory(dirs=[("sample", src)])
    cmd = command(["/usr/bin/gcc", "-O2", "-c", "main.c", "-o", "main.o"], ["main.o"], cwd="sample")
    act = action(cmd, root)
    return src, root, cmd, act


def output_trees():
    leaf = directory(files=[("greet.o", OBJECT), ("sum.o", OBJECT + b"\x01")])
    sub = directory(files=[("main.o", OBJECT)], dirs=[("lib", leaf)], symlinks=[("latest", "lib/greet.o")])
    nested = tree(sub, [leaf])
    flat = tree(leaf, [])
    return nested, flat, sub, leaf


def dag(levels, name_a="a", name_b="b"):
    chain = [directory(files=[("f", b"leaf\n")])]
    for _ in range(levels):
        nxt = chain[0]
        chain.insert(0, directory(dirs=[(name_a, nxt), (name_b, nxt)]))
    return tree(chain[0], chain[1:])


def pb_reader():
    src, root, cmd, act = rev2_sample()
    nested, _, _, _ = output_trees()
    return {
        "store_file_req": msg(many(1, [file_blob(read_sample("greet.c"))]), f_bytes(10, requester_info())),
        "exec_req_length_delimited": exec_req("main.c", ["greet.h"], as_group=False),
        "bytestream_read_response": f_bytes(10, OBJECT),
        "action": act,
        "command": cmd,
        "tree": nested,
        "fixed_fields": key(3, 1) + struct.pack("<q", -2) + key(4, 5) + struct.pack("<i", 7) + f_varint(5, 1 << 63),
        "truncated": f_bytes(1, b"abcdef")[:-2],
        "group_refused": f_group(10, f_bytes(11, "main.c")),
    }


def exec_stream():
    _, _, _, act = rev2_sample()
    nested, flat, _, _ = output_trees()
    ok = execute_response(action_result(output_file("main.o", OBJECT) + output_directory("obj", nested),
                                        stderr=b"main.c:3:5: warning: unused variable\n"))
    cached = execute_response(action_result(output_file("main.o", OBJECT, inline=True)), cached=True)
    failed_compile = execute_response(action_result(exit_code=1, stderr=b"main.c:1:10: fatal error: greet.h\n"))
    missing = execute_response(status=rpc_status(9, "Failed to obtain input", missing=[b"int main(void);\n"]))
    name = "operations/6f9a7c1e-2b1d-4f63-9d1a-0c4f6c2a1b55"
    stages = [operation(name, 1, act), operation(name, 2, act), operation(name, 3, act)]
    out = {
        "queued_executing_done": b"".join(be32(m) for m in stages + [operation(name, 4, act, True, response=ok)]),
        "cache_hit": be32(operation(name, 4, act, True, response=cached)),
        "compile_error": b"".join(be32(m) for m in stages[1:] + [operation(name, 4, act, True, response=failed_compile)]),
        "missing_inputs": be32(operation(name, 4, act, True, response=missing)),
        "operation_error": be32(operation(name, 2, act)) + be32(operation(
            name, None, None, True, error=rpc_status(14, "worker went away"))),
        "no_workers": be32(operation(name, 2, act, True, error=rpc_status(
            9, "No workers exist for instance name prefix \"fuse\" and platform {...}"))),
        "done_without_response": be32(operation(name, 4, act, True)),
        "response_of_another_type": be32(msg(f_bytes(1, name), f_varint(3, 1), f_bytes(5, any_msg(
            "google.protobuf.Empty", b"")))),
        "undecodable_then_done": be32(b"\xff\xff\xff") + be32(operation(name, 4, act, True, response=cached)),
        "flat_tree_result": be32(operation(name, 4, act, True, response=execute_response(
            action_result(output_directory("out", flat))))),
    }
    path = os.path.join(UNTRUSTED, "two_failed_operations.bin")
    if os.path.exists(path):
        with open(path, "rb") as f:
            out["two_failed_operations"] = f.read()
    return out


def rpc_status_corpus():
    blobs = [read_sample(n) for n in ("main.c", "greet.h", "sum.c")]
    return {
        "precondition_missing": rpc_status(9, "Failed to obtain input", missing=blobs),
        "unavailable": rpc_status(14, "connection refused"),
        "ok": rpc_status(0, ""),
        "other_detail": msg(f_varint(1, 3), f_bytes(2, "bad"), f_bytes(3, any_msg("google.rpc.BadRequest", b""))),
        "subject_with_instance": msg(f_varint(1, 9), f_bytes(3, any_msg("google.rpc.PreconditionFailure", f_bytes(
            1, msg(f_bytes(1, "MISSING"), f_bytes(2, "fuse/blobs/%s/12" % ("ab" * 32))))))),
        "digest_text_slash": ("%s/%d" % (hashlib.sha256(blobs[0]).hexdigest(), len(blobs[0]))).encode(),
        "digest_text_dash": ("%s-%d" % (hashlib.sha256(blobs[1]).hexdigest(), len(blobs[1]))).encode(),
    }


def output_list():
    nested, flat, _, _ = output_trees()
    deep = dag(12)
    dotdot_inner = directory(files=[("f", b"escaped\n")])
    dotdot = tree(directory(dirs=[("..", dotdot_inner)]), [dotdot_inner])
    files = output_file("main.o", OBJECT) + output_file("main.d", b"main.o: main.c greet.h\n", inline=True)

    def entry(mode, result, declared, trees):
        return bytes([mode]) + be32(result) + be16("\n".join(declared).encode()) + b"".join(be32(t) for t in trees)

    return {
        "compile_outputs": entry(0, action_result(files), ["main.o", "main.d"], []),
        "output_directory": entry(0, action_result(output_directory("obj", nested)), ["obj"], [nested]),
        "both_and_symlink": entry(0, action_result(files + output_directory("obj", flat) + output_symlink(
            "latest.o", "main.o")), ["main.o", "main.d", "obj", "latest.o"], [flat]),
        "overlapping_declared": entry(0, action_result(output_file("obj/lib/greet.o", OBJECT) + output_directory(
            "obj", nested)), ["obj", "obj/lib/greet.o"], [nested]),
        "climbing_declared": entry(0, action_result(output_file("../up.o", OBJECT)), ["../up.o"], []),
        "undeclared": entry(0, action_result(output_file("b.o", OBJECT)), ["a.o"], []),
        "no_declared_check": entry(0x10, action_result(files), [], []),
        "dag12": entry(0, action_result(output_directory("out", deep)), ["out"], [deep]),
        "dag12_few_outputs": entry(1, action_result(output_directory("out", deep)), ["out"], [deep]),
        "dag12_few_bytes": entry(2 << 2, action_result(output_directory("out", deep)), ["out"], [deep]),
        "tree_dotdot": entry(0, action_result(output_directory("out", dotdot)), ["out"], [dotdot]),
        "two_trees": entry(0, action_result(output_directory("a", nested) + output_directory("b", flat)),
                           ["a", "b"], [nested, flat]),
    }


def proto_json():
    src, root, cmd, act = rev2_sample()
    nested, _, _, _ = output_trees()
    result = action_result(output_file("main.o", OBJECT) + output_file("main.d", b"main.o: main.c\n", inline=True)
                           + output_symlink("latest", "main.o"),
                           stdout=b"compiled\n", stderr="main.c:3: warnung: \u00fcberfl\u00fcssig\n".encode())
    binary = action_result(output_file("main.o", OBJECT), stdout=OBJECT[:40], exit_code=-1)
    return {
        "action": bytes([0, 0]) + act,
        "action_salt_do_not_cache": bytes([0, 0]) + action(cmd, root, 60, True, b"\x00salt\xff"),
        "command": bytes([1, 0]) + cmd,
        "command_limited": bytes([1, 0x80 | 20]) + cmd,
        "action_result": bytes([2, 0]) + result,
        "action_result_binary_stdout": bytes([2, 0]) + binary,
        "tree": bytes([3, 0]) + nested,
        "execute_response_status": bytes([4, 0]) + execute_response(
            status=rpc_status(9, "Failed to obtain input", missing=[b"x"]), message="see logs"),
        "execute_response_cached": bytes([4, 0]) + execute_response(result, cached=True),
    }


def view_tree():
    nested, flat, sub, leaf = output_trees()
    src, root, _, _ = rev2_sample()
    out = {
        "directory_sources": src,
        "directory_root": root,
        "directory_with_symlink": sub,
        "tree_nested": nested,
        "tree_flat": flat,
        "tree_dag6": dag(6),
        "tree_missing_child": tree(sub, []),
        "directory_duplicate_names": directory(files=[("a", b"1"), ("a", b"2")]),
        "directory_executable": directory(files=[("run.sh", b"#!/bin/sh\necho hi\n", True)]),
    }
    path = os.path.join(UNTRUSTED, "directory_without_digest.bin")
    if os.path.exists(path):
        with open(path, "rb") as f:
            out["directory_without_digest"] = f.read()
    return out


def view_action():
    src, root, cmd, act = rev2_sample()
    nested, flat, _, _ = output_trees()
    result = action_result(output_file("main.o", OBJECT) + output_directory("obj", nested)
                           + output_symlink("latest", "main.o"), stdout=b"ok\n", stderr=b"main.c: warning\n")
    input_tree = tree(root, [src])

    def entry(flags, a, c, r, trees):
        return bytes([flags]) + be32(a) + be32(c) + be32(r) + b"".join(be32(t) for t in trees)

    return {
        "compiled_with_result": entry(1, act, cmd, result, [input_tree, nested]),
        "no_result_yet": entry(0, act, cmd, b"", [input_tree]),
        "failed_compile": entry(1, act, cmd, action_result(exit_code=1, stderr=b"fatal error\n"), [input_tree]),
        "two_output_trees": entry(1, act, cmd, action_result(output_directory("a", nested) + output_directory(
            "b", flat)), [input_tree, nested, flat]),
        "undecodable_command": entry(1, act, b"\xff\xff", result, [input_tree, nested]),
        "escaping_output": entry(1, act, cmd, action_result(output_file("../../etc/passwd", b"x")), [input_tree]),
    }


def config_corpus():
    with open(os.path.join(REPO, "config", "gomabarn.conf.example"), "rb") as f:
        example = f.read()
    return {
        "example": example,
        "minimal": b'buildbarn = { target = "127.0.0.1:8980"; };\n',
        "routing": b'buildbarn = { target = "bb:8980"; instance_name = ""; };\n'
                   b'routing = { rules = ["compiler=clang* target=aarch64-* -> arm", '
                   b'"dimension=os:linux -> hardlinking", "compiler=gcc -> \\"\\""]; allow_header = false; };\n',
        "tls": b'buildbarn = { target = "bb.example:443"; tls = true; tls_ca_file = "/etc/ssl/ca.pem"; '
               b'tls_cert_file = "c.pem"; tls_key_file = "k.pem"; tls_server_name = "bb"; };\n',
        "tokens": b'auth = { mode = "tokens"; token_file = "/etc/gomabarn/tokens"; };\n'
                  b'http = { port = 8088; path_prefix = "/cxx-compiler-service"; max_body_bytes = 1048576; };\n',
        "big_int": b'cache = { dir = "/var/cache/gomabarn"; max_bytes = 10737418240L; };\n',
        "big_int_without_L": b'cache = { max_bytes = 10737418240; };\n',
        "out_of_range": b'buildbarn = { threads = 0; };\n',
        "unknown_key": b'buildbarn = { targte = "x"; };\n',
        "wrong_type": b'exec = { env_allow = "LANG"; timeout_s = "900"; };\n',
        "list_of_non_strings": b'exec = { env_allow = ["LANG", 3]; };\n',
        "syntax_error": b'buildbarn = { target = "x" }\n',
    }


def dict_file(tokens):
    """libFuzzer's dictionary format: one quoted token a line, \\xNN escapes."""
    def quote(t):
        return "".join(c if " " <= c <= "~" and c not in '\\"' else "\\x%02x" % ord(c) for c in t)
    return "".join('"%s"\n' % quote(t) for t in tokens)


def config_dict():
    """Every key of the schema, as libconfig spells it, for -dict."""
    with open(os.path.join(REPO, "config", "config_schema.c"), encoding="utf-8") as f:
        paths = re.findall(r'K\("([a-z_.]+)"', f.read())
    words = set()
    for p in paths:
        words.update(p.split("."))
    tokens = sorted(words) + ["=", ";", "{", "}", "[", "]", "(", ")", ",", "\"\"", "true", "false", "0x10", "10L",
                              "2147483647", "#", "//", "/*", "*/", "\\\""]
    return dict_file(tokens)


def routing_corpus():
    return {
        "three_rules_clang_arm": b"compiler=clang* target=aarch64-* -> arm\ndimension=os:linux -> hardlinking\n"
                                 b"compiler=gcc -> \"\"\n\nclang-17\naarch64-linux-gnu\nos:linux\n",
        "gcc_empty_instance": b"compiler=gcc -> \"\"\n\ngcc\nx86_64-linux-gnu\n",
        "dimension_only": b"dimension=os:* -> fuse\n\ngcc\nx86_64-linux-gnu\nos:linux\ncpu:x86_64\n",
        "missing_fields": b"target=* -> any\ncompiler=* dimension=* -> all\n\n",
        "nested_instance": b"compiler=clang -> fuse/sub\n\nclang\n",
        "bad_instance": b"compiler=clang -> /fuse\n\nclang\n",
        "no_arrow": b"compiler=clang fuse\n\nclang\n",
        "unknown_key": b"os=linux -> fuse\n\n",
        "no_condition": b"-> fuse\n\n",
    }


def cc_args():
    def argv(*args):
        return b"\0".join(a.encode() for a in args)

    return {
        "compile": argv("gcc", "-O2", "-Wall", "-c", "main.c", "-o", "main.o"),
        "compile_default_output": argv("cc", "-c", "sum.c"),
        "compile_mmd": argv("gcc", "-MMD", "-MP", "-MF", "obj/main.d", "-c", "src/main.c", "-o", "obj/main.o"),
        "compile_md_default_dep": argv("clang", "-MD", "-c", "greet.c", "-o", "build/greet.o", "-I", "include"),
        "compile_mt_mq": argv("gcc", "-MD", "-MT", "main.o", "-MQ", "$(OBJ)", "-c", "main.cc"),
        "preprocess_only": argv("gcc", "-E", "main.c"),
        "link": argv("gcc", "main.o", "greet.o", "sum.o", "-o", "sample"),
        "two_sources": argv("gcc", "-c", "main.c", "greet.c"),
        "output_named_like_source": argv("gcc", "-c", "x.c", "-o", "y.c"),
        "stdin_source": argv("gcc", "-x", "c", "-c", "-", "-o", "a.o"),
        "assembler": argv("gcc", "-c", "start.S", "-o", "start.o"),
        "rule": b"main.o: main.c greet.h \\\n /usr/include/stdio.h \\\n /usr/include/my\\ file.h\n",
        "rule_long_word": b"x.o: " + b"d" * 5000 + b" y.h\n",
    }


def worker_args():
    """Compile lines as build systems write them, under the input root /r/p
    (the target's root): mode byte (1 clang, 2 wd "build", 4 no shell, 8 a
    relocated toolchain),
    then the NUL-separated argv."""
    def line(mode, *args):
        return bytes([mode]) + b"\0".join(a.encode() for a in args)

    return {
        "cmake_absolute": line(2, "gcc", "-I/r/p/include", "-isystem", "/r/p/third_party", "-O2", "-g",
                               "-o", "CMakeFiles/x.dir/a.c.o", "-c", "/r/p/src/a.c"),
        "autotools_relative": line(2, "gcc", "-DHAVE_CONFIG_H", "-I.", "-I../include", "-g", "-O2", "-c",
                                   "../src/a.c", "-o", "a.o"),
        "debian_flags": line(0, "gcc", "-g", "-O2", "-ffile-prefix-map=/r/p=.", "-fstack-protector-strong",
                             "-Wformat", "-c", "a.c", "-o", "a.o"),
        "clang_sysroot": line(1, "clang", "--sysroot=/r/p/sysroot", "-B/r/p/bin", "-gdwarf-5", "-c", "a.c"),
        "names_not_paths": line(2, "gcc", "-MT", "/r/p/build/a.o", "-D", "DIR=/r/p", "-c", "/r/p/a.c"),
        "no_shell": line(4, "gcc", "-g", "-c", "/r/p/a.c"),
        "clang_toolchain": line(1 | 2 | 8, "../.gomabarn-toolchain/usr/bin/clang", "-g", "-c", "../src/a.c"),
        "cmake_deps": line(2, "gcc", "-MD", "-MT", "x.o", "-MF", "x.o.d", "-I/r/p/include", "-o", "x.o", "-c",
                           "/r/p/src/a.c"),
        "kbuild_deps": line(2, "gcc", "-Wp,-MMD,.a.o.d", "-c", "/r/p/a.c", "-o", "a.o"),
        "toolchain_deps": line(2 | 8, "../.gomabarn-toolchain/usr/bin/gcc", "-MD", "-c", "../src/a.c", "-o", "a.o"),
        "source_named_deps": line(2, "gcc", "-MMD", "-include", "/r/p/x.c", "-x", "c", "-c", "/r/p/src/a.c"),
    }


def cc_args_dict():
    flags = ["-c", "-o", "-E", "-M", "-MM", "-MD", "-MMD", "-MF", "-MT", "-MQ", "-MP", "-", ".c", ".cc", ".cpp",
             ".cxx", ".C", ".s", ".S", ".m", ".o", ".d", "\\\n", "\\ ", ":", "-Wp,-MD,", "-Wp,-MMD,"]
    return dict_file(flags)


# ---- reproducers of the bugs the targets found (tests/fuzz/crashes/) --------

def crashes():
    """Each still crashes its target until the bug is fixed (README.md)."""
    # output_list: 40 nested Directories with 1,200-character names, then
    # 15 levels naming the next Directory twice: 98,343 outputs (under the
    # 100,000 limit) whose paths are each over 48,000 bytes long. A 53 KB
    # Tree expands to about 4.7 GB of path strings.
    chain = [directory(files=[("f", b"x")])]
    for _ in range(15):
        chain.insert(0, directory(dirs=[("a", chain[0]), ("b", chain[0])]))
    for i in range(40):
        chain.insert(0, directory(dirs=[(chr(ord("a") + i % 26) * 1200, chain[0])]))
    amplifying = tree(chain[0], chain[1:])
    path_bytes = bytes([0]) + be32(action_result(output_directory("out", amplifying), meta=False)) + be16(b"out") \
        + be32(amplifying)
    # proto_json: a Timestamp gmtime_r cannot convert (2^62 s); the JSON
    # shows whatever the uninitialised struct tm held.
    timestamp_beyond = bytes([2, 0]) + f_bytes(9, f_bytes(2, f_varint(1, 1 << 62)))
    return {
        "output_list": {"path_bytes_unbounded": path_bytes},
        "proto_json": {"timestamp_beyond_gmtime": timestamp_beyond},
    }


# ---- checking with protoc ---------------------------------------------------

def protoc_check(kind, data):
    """Decodes `data` as message type `kind` with protoc; raises on failure."""
    protos = {"devtools_goma.": "goma/goma_data.proto", "google.rpc.": "google/rpc/status.proto",
              "google.longrunning.": "google/longrunning/operations.proto"}
    proto = next((p for prefix, p in protos.items() if kind.startswith(prefix)),
                 "build/bazel/remote/execution/v2/remote_execution.proto")
    if kind == "google.rpc.PreconditionFailure":
        proto = "google/rpc/error_details.proto"
    r = subprocess.run(["protoc", "-I" + PROTO, "--decode=" + kind, proto], input=data, capture_output=True)
    if r.returncode != 0:
        raise SystemExit("protoc cannot decode a %s seed: %s" % (kind, r.stderr.decode(errors="replace")))


def check_all():
    """The messages the corpora are made of, decoded by the reference protoc."""
    if not shutil.which("protoc"):
        print("protoc not found: seeds not cross-checked", file=sys.stderr)
        return
    src, root, cmd, act = rev2_sample()
    nested, flat, sub, leaf = output_trees()
    checks = [
        ("devtools_goma.ExecReq", exec_req("main.c", ["greet.h"], as_group=False)),
        ("devtools_goma.ExecResp", exec_resp(exec_result([("main.o", OBJECT)], as_group=False))),
        ("devtools_goma.StoreFileReq", goma_wire()["store_file_chunks"][1:]),
        ("devtools_goma.LookupFileReq", goma_wire()["lookup_file"][1:]),
        (REV2 + "Action", act), (REV2 + "Command", cmd), (REV2 + "Directory", root), (REV2 + "Tree", nested),
        (REV2 + "Tree", dag(4)),
        (REV2 + "ActionResult", action_result(output_file("a", OBJECT, inline=True) + output_directory("o", flat)
                                              + output_symlink("l", "a"), stdout=b"x")),
        (REV2 + "ExecuteResponse", execute_response(status=rpc_status(9, "m", missing=[b"x"]))),
        ("google.longrunning.Operation", operation("operations/x", 2, act, True, response=execute_response())),
        ("google.rpc.Status", rpc_status(9, "m", missing=[b"x"])),
    ]
    for kind, data in checks:
        protoc_check(kind, data)
    print("protoc decodes all %d seed message kinds" % len(checks))


CORPORA = {
    "goma_wire": goma_wire, "goma_files": goma_files, "http_body": http_body, "pb_reader": pb_reader, "exec_stream": exec_stream,
    "rpc_status": rpc_status_corpus, "output_list": output_list, "proto_json": proto_json,
    "view_tree": view_tree, "view_action": view_action, "config": config_corpus, "routing": routing_corpus,
    "cc_args": cc_args, "worker_args": worker_args,
}
DICTS = {"config": config_dict, "cc_args": cc_args_dict, "worker_args": cc_args_dict}


def main(argv):
    check_all()
    if "--check" in argv:
        return 0
    total = 0
    for target, make in CORPORA.items():
        out = os.path.join(HERE, "corpus", target)
        os.makedirs(out, exist_ok=True)
        for name, data in make().items():
            if len(data) >= 64 << 10:
                raise SystemExit("%s/%s is %d bytes: seeds stay under 64 KiB" % (target, name, len(data)))
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)
            total += 1
    for target, files in crashes().items():
        out = os.path.join(HERE, "crashes", target)
        os.makedirs(out, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)
    for target, make in DICTS.items():
        with open(os.path.join(HERE, target + ".dict"), "w", encoding="utf-8") as f:
            f.write(make())
    print("wrote %d seeds for %d targets, %d dictionaries" % (total, len(CORPORA), len(DICTS)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
