"""Exec through `gomabarn serve` -> Buildbarn (integration: needs the local
cluster, see tests/buildbarn). Requests are built with Python's protobuf
from a .proto with real groups, as a goma client sends them: a hash-only
input comes back as missing_input, the retry with content compiles on the
worker, and the object equals a local compile byte for byte; then a cache
hit, a compile error, goma's fake cwd, a multi-file program, an unknown
instance name, a path escape, and an input over 2 MiB sent as chunks.
Every ExecResp, StoreFileResp and LookupFileResp received is checked
against the goma client's rules (goma_rules.py); one connection also
carries a whole session (keep-alive)."""
import gzip
import hashlib
import http.client
import os
import re
import subprocess
import time

import pytest

import gmb_serve
import goma_rules

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PREFIX = "/cxx-compiler-service"
INSTANCES = ["hardlinking", "fuse"]
MOUNT = None  # where the server fixture mounts the view


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    global MOUNT
    MOUNT = str(tmp / "mnt")
    proc, port, _ = gmb_serve.start(tmp, 'mount = { enabled = true; path = "%s"; };' % MOUNT,
                                    http="max_body_bytes = 33554432;")
    yield port
    gmb_serve.stop(proc, timeout=20)

def key(blob):
    return hashlib.sha256(blob.SerializeToString()).hexdigest()


def file_blob(gg, data):
    return gg.FileBlob(blob_type=1, content=data, file_size=len(data))


def exec_req(gg, cwd, files, args, outputs, embed=True):
    req = gg.ExecReq(cwd=cwd, arg=args, expected_output_files=outputs, cache_policy=1)
    req.command_spec.name = "gcc"
    for name, data in files.items():
        b = file_blob(gg, data)
        i = req.input.add(filename=name, hash_key=key(b))
        if embed:
            i.content.CopyFrom(b)
    return req


def call(gg, port, req, instance):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("POST", PREFIX + "/e", body=gzip.compress(req.SerializeToString()),
              headers={"Content-Encoding": "gzip", "X-Gomabarn-Instance": instance})
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200, body
    resp = gg.ExecResp.FromString(body)
    # Every answer is checked against the goma client's rules.
    problems = goma_rules.exec_resp_problems(resp, req)
    assert not problems, problems
    return resp


def store(gg, port, blobs):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    req = gg.StoreFileReq(blob=blobs)
    c.request("POST", PREFIX + "/s", body=req.SerializeToString())
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200, body
    resp = gg.StoreFileResp.FromString(body)
    assert goma_rules.store_problems(resp, req) == []
    return list(resp.hash_key)


def lookup(gg, port, keys):
    """LookupFile as the client asks it: at most 5 keys per request."""
    blobs = []
    for at in range(0, len(keys), 5):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("POST", PREFIX + "/l", body=gg.LookupFileReq(hash_key=keys[at:at + 5]).SerializeToString())
        r = c.getresponse()
        body = r.read()
        c.close()
        assert r.status == 200, body
        resp = gg.LookupFileResp.FromString(body)
        assert goma_rules.lookup_problems(resp, keys[at:at + 5]) == []
        blobs += list(resp.blob)
    return blobs


def local_compile(tmp_path, files, args):
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    subprocess.run(args, cwd=tmp_path, check=True)


HELLO = b'#include <stdio.h>\nint main(void) { puts("hello through goma"); return 0; }\n'


@pytest.mark.parametrize("instance", INSTANCES)
def test_missing_then_compile_then_cache_hit(gg, server, tmp_path, instance):
    src = HELLO + b"/* %s %d */\n" % (instance.encode(), time.time_ns())
    files = {"hello.c": src}
    args = ["gcc", "-c", "hello.c", "-o", "hello.o"]
    resp = call(gg, server, exec_req(gg, str(tmp_path), files, args, ["hello.o"], embed=False), instance)
    assert list(resp.missing_input) == ["hello.c"]
    assert len(resp.missing_reason) == 1

    resp = call(gg, server, exec_req(gg, str(tmp_path), files, args, ["hello.o"]), instance)
    assert not resp.error_message, resp.error_message
    assert resp.result.HasField("exit_status") and resp.result.exit_status == 0
    assert [o.filename for o in resp.result.output] == ["hello.o"]
    blob = resp.result.output[0].blob
    assert blob.blob_type == 1 and blob.HasField("content") and blob.file_size == len(blob.content)
    local_compile(tmp_path, files, args)
    assert blob.content == (tmp_path / "hello.o").read_bytes()
    assert resp.cache_hit == 0

    # Hash-only now resolves (the embedded content was stored), and the
    # action cache answers without a byte of the inputs being read: no
    # input file is opened on a hit (inputs by reference).
    opened = metric(get(server, "/metrics")[1], "gomabarn_exec_input_files_opened_total")
    assert opened is not None and opened >= 1  # the miss above uploaded hello.c
    again = call(gg, server, exec_req(gg, str(tmp_path), files, args, ["hello.o"], embed=False), instance)
    assert not again.missing_input
    assert again.cache_hit == 2  # STORAGE_CACHE
    assert again.result.output[0].blob.content == blob.content
    assert metric(get(server, "/metrics")[1], "gomabarn_exec_input_files_opened_total") == opened


@pytest.mark.parametrize("instance", INSTANCES)
def test_compile_error_and_fake_cwd(gg, server, instance):
    files = {"bad.c": b"int main(void) { return undefined_thing; } /* %d */\n" % time.time_ns()}
    resp = call(gg, server, exec_req(gg, "/this/path/is/set/by/goma", files,
                                     ["gcc", "-c", "bad.c", "-o", "bad.o"], ["bad.o"]), instance)
    assert resp.result.exit_status != 0
    assert b"undefined_thing" in resp.result.stderr_buffer
    assert len(resp.result.output) == 0


def test_multi_file_program(gg, server, tmp_path):
    sample = os.path.join(REPO, "tests/data/sample")
    files = {n: open(os.path.join(sample, n), "rb").read() for n in ("main.c", "greet.h")}
    files["main.c"] += b"/* %d */\n" % time.time_ns()
    args = ["gcc", "-O2", "-c", "main.c", "-o", "out/main.o"]
    resp = call(gg, server, exec_req(gg, str(tmp_path), files, args, ["out/main.o"]), "hardlinking")
    assert resp.result.exit_status == 0, resp.result.stderr_buffer
    (tmp_path / "out").mkdir()
    local_compile(tmp_path, files, args)
    assert resp.result.output[0].filename == "out/main.o"
    assert resp.result.output[0].blob.content == (tmp_path / "out/main.o").read_bytes()


def test_unknown_instance_and_path_escape(gg, server, tmp_path):
    files = {"x.c": b"int x = %d;\n" % time.time_ns()}
    resp = call(gg, server, exec_req(gg, str(tmp_path), files, ["gcc", "-c", "x.c"], ["x.o"]), "no-such-pool")
    assert not resp.HasField("result") or resp.result.exit_status != 0
    assert any("No workers exist" in m for m in resp.error_message), resp.error_message
    esc = exec_req(gg, "/a", {"../../../../etc/passwd2": b"x"}, ["gcc", "-c", "x.c"], ["x.o"])
    resp = call(gg, server, esc, "hardlinking")
    assert resp.error == -1  # BAD_REQUEST: not retried, the client builds locally
    assert any("climbs above" in m for m in resp.error_message)


def test_input_over_2_mib_via_chunks(gg, server, tmp_path):
    # A source file of about 3 MiB: goma sends it as FILE_META + FILE_CHUNKs.
    body = b"/* " + b"padding " * (3 * 1024 * 1024 // 8) + b" */\nint big_answer(void) { return %d; }\n" % (int.from_bytes(os.urandom(3), "little"))
    chunk_size = 2 * 1024 * 1024
    chunks = [gg.FileBlob(blob_type=3, offset=o, content=body[o:o + chunk_size], file_size=len(body[o:o + chunk_size]))
              for o in range(0, len(body), chunk_size)]
    meta = gg.FileBlob(blob_type=2, file_size=len(body), hash_key=[key(c) for c in chunks])
    req = gg.ExecReq(cwd=str(tmp_path), arg=["gcc", "-c", "big.c", "-o", "big.o"], expected_output_files=["big.o"])
    req.command_spec.name = "gcc"
    i = req.input.add(filename="big.c", hash_key=key(meta))
    i.content.CopyFrom(meta)
    # The chunks are not there yet: the file is reported missing.
    resp = call(gg, server, req, "fuse")
    assert list(resp.missing_input) == ["big.c"]
    # The client uploads the chunks (at most 5 per StoreFile) and retries.
    assert store(gg, server, chunks) == list(meta.hash_key)
    resp = call(gg, server, req, "fuse")
    assert not resp.missing_input and not resp.error_message, resp
    assert resp.result.exit_status == 0, resp.result.stderr_buffer
    local_compile(tmp_path, {"big.c": body}, ["gcc", "-c", "big.c", "-o", "big.o"])
    assert resp.result.output[0].blob.content == (tmp_path / "big.o").read_bytes()


def test_output_over_2_mib_via_lookup_file(gg, server, tmp_path):
    """A 5 MB output comes back as FILE_META; its chunks are fetched with
    LookupFile, each valid, laid end to end, and equal to what ran."""
    salt = "%d" % time.time_ns()
    want = (("gomabarn " + salt + "\n").encode() * 1000000)[:5000000]
    req = exec_req(gg, str(tmp_path), {"salt.txt": salt.encode()},
                   ["sh", "-c", "yes 'gomabarn %s' | head -c 5000000 >big.bin" % salt], ["big.bin"])
    resp = call(gg, server, req, "hardlinking")
    assert resp.result.exit_status == 0, resp.result.stderr_buffer
    meta = resp.result.output[0].blob
    assert meta.blob_type == goma_rules.FILE_META and meta.file_size == len(want)
    chunks = lookup(gg, server, list(meta.hash_key))
    assert goma_rules.chunks_problems(meta, chunks) == []
    assert all(key(c) == k for c, k in zip(chunks, meta.hash_key))  # served under their own keys
    assert b"".join(c.content for c in chunks) == want


def test_cache_policies(gg, server, tmp_path):
    """LOOKUP_ONLY (2) runs without storing its result; LOOKUP_AND_STORE
    (1) stores it; STORE_ONLY (3) never takes a cached answer."""
    files = {"p.c": b"int policy(void) { return %d; }\n" % time.time_ns()}
    args = ["gcc", "-c", "p.c", "-o", "p.o"]

    def run(policy):
        req = exec_req(gg, str(tmp_path), files, args, ["p.o"])
        req.cache_policy = policy
        resp = call(gg, server, req, "hardlinking")
        assert resp.result.exit_status == 0, resp
        return resp.cache_hit

    assert run(2) == 0  # ran, not stored
    assert run(1) == 0  # so this one runs too, and stores
    assert run(2) == 2  # now found (STORAGE_CACHE)
    assert run(3) == 0  # STORE_ONLY does not look


def test_output_directory_comes_back_as_its_files(gg, server, tmp_path):
    """expected_output_dirs: the directory exists before the command runs
    (javac -d needs it) and each file in it comes back as <dir>/<path>,
    executable bits kept."""
    salt = b"%d" % time.time_ns()
    req = exec_req(gg, str(tmp_path), {"salt.txt": salt},
                   ["sh", "-c", "test -d gen && cp salt.txt gen/a.txt && mkdir gen/sub && "
                                "printf '#!/bin/sh\\n' >gen/sub/run && chmod +x gen/sub/run"], [])
    req.expected_output_dirs.append("gen")
    resp = call(gg, server, req, "fuse")
    assert resp.result.exit_status == 0, resp.result.stderr_buffer
    outs = {o.filename: o for o in resp.result.output}
    assert set(outs) == {"gen/a.txt", "gen/sub/run"}
    assert outs["gen/a.txt"].blob.content == salt and not outs["gen/a.txt"].is_executable
    assert outs["gen/sub/run"].blob.content == b"#!/bin/sh\n" and outs["gen/sub/run"].is_executable


def test_overlapping_outputs_come_back_once(gg, server, tmp_path):
    """An expected file inside an expected directory, and nested expected
    directories: each file is answered once (goma_rules checks it)."""
    req = exec_req(gg, str(tmp_path), {"s.txt": b"%d" % time.time_ns()},
                   ["sh", "-c", "mkdir -p gen/x && cp s.txt gen/a.txt && cp s.txt gen/x/y"], ["gen/a.txt"])
    req.expected_output_dirs.extend(["gen", "gen/x"])
    resp = call(gg, server, req, "hardlinking")
    assert resp.result.exit_status == 0, resp.result.stderr_buffer
    assert sorted(o.filename for o in resp.result.output) == ["gen/a.txt", "gen/x/y"]


def test_inputs_and_outputs_through_the_view(gg, server, tmp_path):
    """The server reads outputs back through its FUSE view; the same view
    shows the action's inputs and outputs to anyone who looks."""
    src = HELLO + b"/* view %d */\n" % time.time_ns()
    files = {"hello.c": src}
    args = ["gcc", "-c", "hello.c", "-o", "hello.o"]
    resp = call(gg, server, exec_req(gg, str(tmp_path), files, args, ["hello.o"]), "fuse")
    assert resp.result.exit_status == 0
    h, size = resp.cache_key.split("/")
    action = os.path.join(MOUNT, "by-instance", "fuse", "%s-%s" % (h, size))
    assert open(os.path.join(action, "input", "hello.c"), "rb").read() == src
    assert open(os.path.join(action, "output", "hello.o"), "rb").read() == resp.result.output[0].blob.content
    assert "gcc" in open(os.path.join(action, "command.json")).read()


def test_one_connection_carries_a_whole_session(gg, server, tmp_path):
    """goma's client keeps its connection alive: ping, a StoreFile, an Exec
    refused for a wrong hash, a good Exec that uses the stored file, and a
    LookupFile all travel on one socket. Every 200 names gzip and deflate
    (the client picks its request encoding from it), and the refusal stops
    neither the daemon nor the connection."""
    c = http.client.HTTPConnection("127.0.0.1", server, timeout=120)
    sockets = []

    def send(path, body=b"", headers=None):
        c.request("POST", PREFIX + path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        assert r.status == 200 and not r.will_close, (path, r.status, data)
        accepted = {e.strip() for e in r.getheader("Accept-Encoding", "").split(",")}
        assert {"gzip", "deflate"} <= accepted, path
        sockets.append(c.sock)
        return data

    def exec_(req):
        resp = gg.ExecResp.FromString(send("/e", gzip.compress(req.SerializeToString()), {"Content-Encoding": "gzip"}))
        assert goma_rules.exec_resp_problems(resp, req) == []
        return resp

    salt = b"%d" % time.time_ns()
    header = file_blob(gg, b"#define SALT %s\n" % salt)
    src = b'#include "salt.h"\nlong salt(void) { return SALT; }\n'
    args = ["gcc", "-c", "s.c", "-o", "s.o"]
    assert send("/ping") == b"ok"
    stored = gg.StoreFileReq(blob=[header])
    assert list(gg.StoreFileResp.FromString(send("/s", stored.SerializeToString())).hash_key) == [key(header)]

    forged = exec_req(gg, str(tmp_path), {"s.c": src}, args, ["s.o"])
    forged.input[0].content.content = b"int forged;\n"  # no longer what hash_key names
    forged.input[0].content.file_size = 12
    resp = exec_(forged)
    assert resp.error == goma_rules.BAD_REQUEST and not resp.HasField("result")
    assert any("s.c" in m and "hash" in m for m in resp.error_message), resp.error_message

    good = exec_req(gg, str(tmp_path), {"s.c": src}, args, ["s.o"])
    good.input.add(filename="salt.h", hash_key=key(header))  # hash-only: StoreFile put it there
    resp = exec_(good)
    assert resp.result.exit_status == 0, resp.result.stderr_buffer
    assert resp.result.output[0].blob.content.startswith(b"\x7fELF")

    look = gg.LookupFileResp.FromString(send("/l", gg.LookupFileReq(hash_key=[key(header)]).SerializeToString()))
    assert list(look.blob) == [header]
    assert all(s is sockets[0] for s in sockets), "the connection was replaced"
    c.close()


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, body


def metric(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


def test_status_page_and_metrics(server):
    # Runs last: the requests above have left their marks.
    status, text = get(server, "/metrics")
    assert status == 200
    assert metric(text, 'gomabarn_exec_requests_total{outcome="done"}') >= 6
    assert metric(text, 'gomabarn_exec_requests_total{outcome="missing"}') >= 3
    assert metric(text, 'gomabarn_exec_requests_total{outcome="bad"}') >= 1
    assert metric(text, "gomabarn_exec_missing_input_rounds_total") >= 3
    assert metric(text, "gomabarn_exec_cache_hits_total") >= 2
    assert metric(text, "gomabarn_exec_in_flight") == 0
    assert metric(text, 'gomabarn_http_requests_total{endpoint="e",code="200"}') >= 10
    assert metric(text, "gomabarn_buildbarn_bytes_up_total") > 0
    assert metric(text, "gomabarn_exec_outputs_via_view_total") >= 6  # read back through the mount
    assert metric(text, "gomabarn_exec_duration_seconds_count") >= 10
    assert "# TYPE gomabarn_exec_duration_seconds histogram" in text

    status, page = get(server, "/")
    assert status == 200
    assert "reachable (GetCapabilities answered)" in page
    assert 'default instance name</th><td>"hardlinking"' in page
    ids = re.findall(r'<a href="/request/(\d+)">\d+</a></td><td>[^<]*</td><td class="done">', page)
    assert ids, "no finished request listed"
    status, detail = get(server, "/request/" + ids[0])
    assert status == 200
    assert re.search(r"action digest</th><td>[0-9a-f]{64}/\d+", detail)
    assert re.search(r"worker</th><td>\{&quot;host&quot;", detail)
    assert re.search(r"execution</th><td>[0-9.]+ ms", detail)
    assert get(server, "/request/999999999")[0] == 404
