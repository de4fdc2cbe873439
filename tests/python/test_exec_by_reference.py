"""Exec by reference, proven by the gateway's own counters (integration:
needs the local Buildbarn, see tests/buildbarn).

A toolchain_included request ships its "compiler": a shell script and a
3 MiB data file it reads (sent as FILE_META + FILE_CHUNKs by StoreFile, as
a goma client sends cc1). Then:
- an action-cache hit reads 0 bytes of inputs and uploads 0 bytes;
- a miss uploads the missing blobs once, and the next miss with the same
  toolchain neither uploads nor asks about the toolchain again (blobs known
  present);
- two concurrent misses sharing a new 3 MiB input upload it once;
- a request whose inputs are all held is prepared on the HTTP thread, one
  with a new embedded source on the work pool.
"""
import concurrent.futures
import gzip
import hashlib
import http.client
import os
import time

import pytest

import gmb_serve
from gmb_serve import metrics
import goma_rules

PREFIX = "/cxx-compiler-service"
CHUNK = 2 * 1024 * 1024
BIG = 3 * 1024 * 1024 + 12345
PREPARED_HTTP = 'gomabarn_exec_prepared_total{on="http"}'
PREPARED_POOL = 'gomabarn_exec_prepared_total{on="pool"}'

# Prints the data file's first bytes and the source into the output: the
# output proves the worker ran the shipped toolchain with both files.
SCRIPT = b"""#!/bin/sh
here=$(dirname "$0")
out=""
while [ $# -gt 0 ]; do
    case "$1" in -o) out=$2; shift ;; *.c) src=$1 ;; esac
    shift
done
{ head -c 16 "$here/../lib/data.bin"; cat "$src"; } > "$out"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc, port, _ = gmb_serve.start(tmp_path_factory.mktemp("by_reference"),
                                    'buildbarn = { instance_name = "hardlinking"; };',
                                    http="max_body_bytes = 33554432;")
    yield port
    gmb_serve.stop(proc, timeout=20)

def key(blob):
    return hashlib.sha256(blob.SerializeToString()).hexdigest()


def post(port, path, body, gz=False):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("POST", PREFIX + path, body=gzip.compress(body) if gz else body,
              headers={"Content-Encoding": "gzip"} if gz else {})
    r = c.getresponse()
    data = r.read()
    c.close()
    assert r.status == 200, data
    return data


def delta(after, before, name):
    return after.get(name, 0) - before.get(name, 0)


def store_file(gg, port, data):
    """StoreFile as goma's client does: a FILE up to 2 MiB, else its chunks
    then nothing else (the FILE_META travels with the Exec). The key."""
    if len(data) <= CHUNK:
        b = gg.FileBlob(blob_type=1, content=data, file_size=len(data))
        post(port, "/s", gg.StoreFileReq(blob=[b]).SerializeToString())
        return key(b)
    chunks = [gg.FileBlob(blob_type=3, offset=o, content=data[o:o + CHUNK], file_size=len(data[o:o + CHUNK]))
              for o in range(0, len(data), CHUNK)]
    resp = gg.StoreFileResp.FromString(post(port, "/s", gg.StoreFileReq(blob=chunks).SerializeToString()))
    assert list(resp.hash_key) == [key(c) for c in chunks]
    meta = gg.FileBlob(blob_type=2, file_size=len(data), hash_key=list(resp.hash_key))
    post(port, "/s", gg.StoreFileReq(blob=[meta]).SerializeToString())
    return key(meta)


def toolchain_req(gg, source, data_key, data, script_key):
    req = gg.ExecReq(cwd="/w", arg=["/opt/tc/bin/cc", "-c", "a.c", "-o", "a.o"], expected_output_files=["a.o"],
                     toolchain_included=True)
    req.command_spec.name = "cc"
    src = gg.FileBlob(blob_type=1, content=source, file_size=len(source))
    req.input.add(filename="a.c", hash_key=key(src)).content.CopyFrom(src)
    req.input.add(filename="/opt/tc/bin/cc", hash_key=script_key)
    req.input.add(filename="/opt/tc/lib/data.bin", hash_key=data_key)
    req.toolchain_specs.add(path="/opt/tc/bin/cc", hash=hashlib.sha256(SCRIPT).hexdigest(), size=len(SCRIPT),
                            is_executable=True)
    req.toolchain_specs.add(path="/opt/tc/lib/data.bin", hash=hashlib.sha256(data).hexdigest(), size=len(data))
    return req


def run(gg, port, req):
    resp = gg.ExecResp.FromString(post(port, "/e", req.SerializeToString(), gz=True))
    assert goma_rules.exec_resp_problems(resp, req) == []
    assert not resp.error_message and not resp.missing_input, resp
    assert resp.result.exit_status == 0, resp.result.stderr_buffer
    return resp


def toolchain(gg, port):
    data = os.urandom(BIG)
    return data, store_file(gg, port, data), store_file(gg, port, SCRIPT)


def test_hit_reads_and_uploads_nothing_and_known_blobs_skip_checks(gg, server):
    data, data_key, script_key = toolchain(gg, server)
    source = b"int a(void) { return %d; }\n" % time.time_ns()
    m0 = metrics(server)
    first = run(gg, server, toolchain_req(gg, source, data_key, data, script_key))
    assert first.cache_hit == 0
    assert first.result.output[0].blob.content == data[:16] + source
    m1 = metrics(server)
    # The miss read the 3 MiB toolchain file once and sent it once.
    assert BIG <= delta(m1, m0, "gomabarn_exec_input_bytes_read_total") < 2 * BIG
    assert BIG <= delta(m1, m0, "gomabarn_buildbarn_bytes_up_total") < 2 * BIG
    # Its source was new (embedded): stored first, so on the work pool.
    assert delta(m1, m0, PREPARED_POOL) == 1 and delta(m1, m0, PREPARED_HTTP) == 0

    hit = run(gg, server, toolchain_req(gg, source, data_key, data, script_key))
    assert hit.cache_hit == 2  # STORAGE_CACHE
    m2 = metrics(server)
    assert delta(m2, m1, "gomabarn_exec_input_bytes_read_total") == 0
    assert delta(m2, m1, "gomabarn_exec_input_files_opened_total") == 0
    assert delta(m2, m1, "gomabarn_buildbarn_bytes_up_total") == 0
    assert delta(m2, m1, "gomabarn_buildbarn_find_missing_calls_total") == 0
    # Every input held here now: no hand-over to the work pool.
    assert delta(m2, m1, PREPARED_HTTP) == 1 and delta(m2, m1, PREPARED_POOL) == 0

    # Another source with the same toolchain: only the new source and the
    # action's own blobs go up; the toolchain is known present, not asked about.
    other = b"int b(void) { return %d; }\n" % time.time_ns()
    run(gg, server, toolchain_req(gg, other, data_key, data, script_key))
    m3 = metrics(server)
    assert delta(m3, m2, "gomabarn_exec_input_bytes_read_total") < 4096
    assert delta(m3, m2, "gomabarn_buildbarn_bytes_up_total") < 64 * 1024
    assert delta(m3, m2, "gomabarn_buildbarn_blobs_known_present_total") >= 2


def test_concurrent_misses_sharing_an_input_upload_it_once(gg, server):
    data, data_key, script_key = toolchain(gg, server)
    sources = [b"int c%d(void) { return %d; }\n" % (i, time.time_ns()) for i in range(2)]
    m0 = metrics(server)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda s: run(gg, server, toolchain_req(gg, s, data_key, data, script_key)), sources))
    for s, a in zip(sources, answers):
        assert a.cache_hit == 0
        assert a.result.output[0].blob.content == data[:16] + s
    m1 = metrics(server)
    # Whichever order the two took, the 3 MiB file went up once: the second
    # joined the first's upload, or found it known present.
    assert BIG <= delta(m1, m0, "gomabarn_buildbarn_bytes_up_total") < 2 * BIG
    assert BIG <= delta(m1, m0, "gomabarn_exec_input_bytes_read_total") < 2 * BIG
    shared = (delta(m1, m0, "gomabarn_buildbarn_uploads_joined_total") +
              delta(m1, m0, "gomabarn_buildbarn_blobs_known_present_total"))
    assert shared >= 1


def test_blob_memory_is_accounted_and_given_back(server):
    m = metrics(server)
    assert m["gomabarn_blob_memory_limit_bytes"] == 134217728
    assert m["gomabarn_blob_memory_peak_bytes"] > 0  # the uploads and answers above held some
    assert m["gomabarn_blob_memory_bytes"] == 0  # and gave it all back
    assert m["gomabarn_blob_memory_waiting"] == 0
