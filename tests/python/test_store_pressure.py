"""A gateway whose content store (cache.max_bytes = 8 MiB) is smaller than
what a client sends, against the real Buildbarn (integration).

goma's client uploads a large file as FILE_CHUNKs, each StoreFile on its
own, and names them in a FILE_META only later, in the Exec. Other uploads
in between used to evict the first chunks before the last arrived, so the
Exec reported them missing round after round. The chunks are now pinned
from their StoreFile until a FILE_META uses them: here the store is
flooded with other files between the chunks (the early ones are evicted),
and the Exec still compiles. With cache.pin_timeout_s = 1 and a pause,
the same sequence loses the chunks: the pins are what keeps them. A file
larger than the whole store is refused, and its chunks are let go. The
start-up log says the store is too small for a toolchain."""
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
MAX_BYTES = 8 << 20
CHUNK = 2 << 20


def start(tmp, pin_timeout_s):
    # Local pins alone: shared files would come back from Buildbarn and
    # hide the evictions (test_share_gateways.py).
    proc, port, log_path = gmb_serve.start(
        tmp, 'goma = { share_through_buildbarn = false; };\nbuildbarn = { instance_name = "hardlinking"; };',
        http="max_body_bytes = 33554432;", cache="max_bytes = %d; pin_timeout_s = %d;" % (MAX_BYTES, pin_timeout_s),
        wait_s=10)
    return proc, open(log_path), port, log_path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc, log, port, log_path = start(tmp_path_factory.mktemp("pressure"), 600)
    yield port, log_path
    proc.terminate()
    assert proc.wait(timeout=20) == 0
    log.close()


@pytest.fixture(scope="module")
def short_pins(tmp_path_factory):
    proc, log, port, log_path = start(tmp_path_factory.mktemp("short_pins"), 1)
    yield port, log_path
    proc.terminate()
    assert proc.wait(timeout=20) == 0
    log.close()


def key(blob):
    return hashlib.sha256(blob.SerializeToString()).hexdigest()


def post(port, path, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("POST", PREFIX + path, body=gzip.compress(body), headers={"Content-Encoding": "gzip"})
    r = c.getresponse()
    data = r.read()
    c.close()
    assert r.status == 200, data
    return data


def store(gg, port, blobs):
    req = gg.StoreFileReq(blob=blobs)
    resp = gg.StoreFileResp.FromString(post(port, "/s", req.SerializeToString()))
    assert goma_rules.store_problems(resp, req) == []
    return list(resp.hash_key)


def lookup(gg, port, k):
    resp = gg.LookupFileResp.FromString(post(port, "/l", gg.LookupFileReq(hash_key=[k]).SerializeToString()))
    return resp.blob[0]


def cache_bytes(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    m = re.search(r"^gomabarn_cache_bytes (\S+)$", text, re.M)
    return float(m.group(1))


def big_source(mib):
    """A C file of about `mib` MiB, different each run."""
    pad = b"/* " + b"padding " * (mib * (1 << 20) // 8) + b" */\n"
    return pad + b"int big_answer(void) { return %d; }\n" % (int.from_bytes(os.urandom(3), "little"))


def chunks_of(gg, body):
    chunks = [gg.FileBlob(blob_type=3, offset=o, content=body[o:o + CHUNK], file_size=len(body[o:o + CHUNK]))
              for o in range(0, len(body), CHUNK)]
    meta = gg.FileBlob(blob_type=2, file_size=len(body), hash_key=[key(c) for c in chunks])
    return chunks, meta


def fill(gg, port, n):
    """Stores n FILE blobs of 1 MiB each, unrelated to any compile (2 MiB
    in the store each: the FileBlob and its content), one per StoreFile
    as the client interleaves them; returns their keys."""
    salt = b"%d" % time.time_ns()
    keys = []
    for i in range(n):
        data = (b"%s %d\n" % (salt, i)).ljust(1 << 20, b"f")
        keys += store(gg, port, [gg.FileBlob(blob_type=1, content=data, file_size=len(data))])
    return keys


def exec_big(gg, port, tmp_path, meta):
    req = gg.ExecReq(cwd=str(tmp_path), arg=["gcc", "-c", "big.c", "-o", "big.o"], expected_output_files=["big.o"])
    req.command_spec.name = "gcc"
    i = req.input.add(filename="big.c", hash_key=key(meta))
    i.content.CopyFrom(meta)
    resp = gg.ExecResp.FromString(post(port, "/e", req.SerializeToString()))
    assert goma_rules.exec_resp_problems(resp, req) == []
    return resp


def test_start_up_says_the_store_is_too_small(server):
    port, log_path = server
    text = log_path.read_text()
    assert re.search(r"WARN  serve: cache.max_bytes is 8.0 MiB, under 1 GiB: a typical compiler toolchain does not "
                     r"fit", text), text


def test_chunks_survive_a_store_smaller_than_the_traffic(gg, server, tmp_path):
    port, _ = server
    body = big_source(5)  # 3 chunks, 5 MiB
    chunks, meta = chunks_of(gg, body)
    first_fill = []
    for c in chunks:
        assert store(gg, port, [c]) == [key(c)]
        first_fill += fill(gg, port, 5)  # 10 MiB of other files after each chunk: more than the store holds
    # The store did evict: the first filler file is gone...
    assert lookup(gg, port, first_fill[0]).blob_type == 0  # FILE_UNSPECIFIED: unknown
    # ...but not the chunks: the Exec finds them all and compiles.
    resp = exec_big(gg, port, tmp_path, meta)
    assert not resp.missing_input, list(resp.missing_input)
    assert not resp.error_message, list(resp.error_message)
    assert resp.result.exit_status == 0, resp.result.stderr_buffer
    (tmp_path / "big.c").write_bytes(body)
    subprocess.run(["gcc", "-c", "big.c", "-o", "local.o"], cwd=tmp_path, check=True)
    assert resp.result.output[0].blob.content == (tmp_path / "local.o").read_bytes()
    # Used: the chunks let go, and the store is back under its limit.
    fill(gg, port, 2)
    assert cache_bytes(port) <= MAX_BYTES


def test_without_the_pins_the_chunks_are_lost(gg, short_pins, tmp_path):
    """The control: pins of 1 s have expired when the flood comes."""
    port, _ = short_pins
    chunks, meta = chunks_of(gg, big_source(5))
    for c in chunks:
        assert store(gg, port, [c]) == [key(c)]
    time.sleep(1.5)
    fill(gg, port, 5)
    resp = exec_big(gg, port, tmp_path, meta)
    assert list(resp.missing_input) == ["big.c"]


def test_a_file_larger_than_the_store_is_refused_and_its_chunks_let_go(gg, server, tmp_path):
    port, log_path = server
    chunks, meta = chunks_of(gg, big_source(9))  # 5 chunks, 9 MiB: can never fit in 8 MiB
    for c in chunks:
        assert store(gg, port, [c]) == [key(c)]
    assert cache_bytes(port) > MAX_BYTES  # the pinned chunks hold the store over its limit, for now
    resp = exec_big(gg, port, tmp_path, meta)
    assert not resp.result.output  # no compile with a file the store cannot hold
    # The server's fault, not the client's: never BAD_REQUEST (goma clients
    # stop on it), and the store's reason in the answer.
    assert resp.error != -1, resp  # ExecError BAD_REQUEST
    assert not resp.missing_input
    assert any("larger than the whole content store (cache.max_bytes)" in m for m in resp.error_message), resp
    assert re.search(r"refusing a blob of \d+ bytes: larger than the whole content store \(cache.max_bytes = %d\)"
                     % MAX_BYTES, log_path.read_text())
    fill(gg, port, 1)
    assert cache_bytes(port) <= MAX_BYTES  # the chunks no longer pinned
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", PREFIX + "/ping")
    assert c.getresponse().status == 200
