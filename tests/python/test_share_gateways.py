"""Two gateways on one Buildbarn, each with its own cache directory, as
behind a load balancer (integration, real Buildbarn).

Files are stored through gateway A only (StoreFile: a FILE, and a large
header as FILE_CHUNKs plus its FILE_META); gateway B is then asked to
compile with those keys alone. B finds them through Buildbarn (the keys'
action-cache entries and the CAS) and compiles with zero missing-input
rounds; LookupFile on B returns A's bytes exactly. The control: a gateway
with goma.share_through_buildbarn = false asks for the same keys. After
100 more Execs (cache hits) B holds no pin. Prints the measured rounds."""
import concurrent.futures
import gzip
import hashlib
import http.client
import os
import re
import socket
import subprocess
import threading
import time

import pytest

import gmb_serve
import goma_rules

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PREFIX = "/cxx-compiler-service"
CHUNK = 2 << 20


def start(tmp, share):
    proc, port, log_path = gmb_serve.start(
        tmp, 'goma = { share_through_buildbarn = %s; };\nbuildbarn = { instance_name = "hardlinking"; };'
        % ("true" if share else "false"), http="max_body_bytes = 33554432;", wait_s=10)
    return proc, open(log_path), port


@pytest.fixture(scope="module")
def gateways(tmp_path_factory):
    started = [start(tmp_path_factory.mktemp(name), share) for name, share in
               (("gateway_a", True), ("gateway_b", True), ("gateway_c", False))]
    yield [port for _, _, port in started]
    for proc, log, _ in started:
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


def metric(port, name):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else 0.0


def store(gg, port, blobs):
    req = gg.StoreFileReq(blob=blobs)
    resp = gg.StoreFileResp.FromString(post(port, "/s", req.SerializeToString()))
    assert goma_rules.store_problems(resp, req) == []
    return list(resp.hash_key)


def exec_on(gg, port, tmp_path, keys):
    req = gg.ExecReq(cwd=str(tmp_path), arg=["gcc", "-c", "a.c", "-o", "a.o"], expected_output_files=["a.o"])
    req.command_spec.name = "gcc"
    for name, k in keys.items():
        req.input.add(filename=name, hash_key=k)  # hash only: the client believes the server has them
    resp = gg.ExecResp.FromString(post(port, "/e", req.SerializeToString()))
    assert goma_rules.exec_resp_problems(resp, req) == []
    return resp


@pytest.fixture(scope="module")
def stored(gg, gateways):
    """A source and a 5 MiB header (3 chunks) stored through A only."""
    port_a = gateways[0]
    salt = b"%d" % time.time_ns()
    header = b"/* " + b"shared " * (5 * (1 << 20) // 7) + b" */\nint big_value(void);\n"
    # "1" first: six digits with a leading 0 are an octal constant, and 8 or 9 then do not compile.
    source = b'#include "big.h"\nint a(void) { return 1%s; }\n' % salt[-6:]
    src_blob = gg.FileBlob(blob_type=1, content=source, file_size=len(source))
    chunks = [gg.FileBlob(blob_type=3, offset=o, content=header[o:o + CHUNK], file_size=len(header[o:o + CHUNK]))
              for o in range(0, len(header), CHUNK)]
    meta = gg.FileBlob(blob_type=2, file_size=len(header), hash_key=[key(c) for c in chunks])
    extra = b"looked up on B only " + salt
    extra_blob = gg.FileBlob(blob_type=1, content=extra, file_size=len(extra))
    for c in chunks:
        assert store(gg, port_a, [c]) == [key(c)]
    assert store(gg, port_a, [src_blob, meta, extra_blob]) == [key(src_blob), key(meta), key(extra_blob)]
    return dict(source=source, header=header, keys={"a.c": key(src_blob), "big.h": key(meta)},
                extra=extra_blob, n_files=len(chunks) + 3)


def test_a_uploads_what_it_stores(gateways, stored):
    port_a = gateways[0]
    # The StoreFile answers waited for the uploads (goma.share_wait_ms).
    assert metric(port_a, "gomabarn_files_shared_total") >= stored["n_files"]
    assert metric(port_a, 'gomabarn_files_share_dropped_total{reason="queue_full"}') == 0


def test_b_compiles_with_keys_stored_through_a(gg, gateways, stored, tmp_path):
    port_b = gateways[1]
    rounds_before = metric(port_b, "gomabarn_exec_missing_input_rounds_total")
    resp = exec_on(gg, port_b, tmp_path, stored["keys"])
    rounds = metric(port_b, "gomabarn_exec_missing_input_rounds_total") - rounds_before
    print("\nmissing-input rounds on B: %d (remote key hits %d, misses %d)" % (
        rounds, metric(port_b, "gomabarn_files_remote_hits_total"), metric(port_b, "gomabarn_files_remote_misses_total")))
    assert list(resp.missing_input) == []
    assert rounds == 0
    assert not resp.error_message, list(resp.error_message)
    assert resp.result.exit_status == 0, resp.result.stderr_buffer
    (tmp_path / "a.c").write_bytes(stored["source"])
    (tmp_path / "big.h").write_bytes(stored["header"])
    subprocess.run(["gcc", "-c", "a.c", "-o", "local.o"], cwd=tmp_path, check=True)
    assert resp.result.output[0].blob.content == (tmp_path / "local.o").read_bytes()
    # The source, the FILE_META and its 3 chunks, each found once.
    assert metric(port_b, "gomabarn_files_remote_hits_total") >= 5


def test_lookup_file_on_b_returns_the_bytes_stored_through_a(gg, gateways, stored):
    port_b = gateways[1]
    k = key(stored["extra"])
    resp = gg.LookupFileResp.FromString(post(port_b, "/l", gg.LookupFileReq(hash_key=[k]).SerializeToString()))
    assert goma_rules.lookup_problems(resp, [k]) == []
    assert resp.blob[0].SerializeToString() == stored["extra"].SerializeToString()


def test_without_sharing_the_keys_are_missing(gg, gateways, stored, tmp_path):
    """The control: a gateway that does not share knows none of them."""
    resp = exec_on(gg, gateways[2], tmp_path, stored["keys"])
    assert sorted(resp.missing_input) == ["a.c", "big.h"]


def test_unknown_keys_cost_one_lookup_each_then_are_remembered(gg, gateways, tmp_path):
    port_b = gateways[1]
    unknown = {"a.c": hashlib.sha256(b"nobody stored %d" % time.time_ns()).hexdigest()}
    misses = metric(port_b, "gomabarn_files_remote_misses_total")
    assert list(exec_on(gg, port_b, tmp_path, unknown).missing_input) == ["a.c"]
    assert metric(port_b, "gomabarn_files_remote_misses_total") == misses + 1
    assert list(exec_on(gg, port_b, tmp_path, unknown).missing_input) == ["a.c"]
    assert metric(port_b, "gomabarn_files_remote_misses_total") == misses + 1  # answered from memory


def test_hits_leave_no_pin_behind(gg, gateways, stored, tmp_path):
    port_b = gateways[1]
    for _ in range(100):
        resp = exec_on(gg, port_b, tmp_path, stored["keys"])
        assert resp.cache_hit == 2, resp  # STORAGE_CACHE
    assert metric(port_b, "gomabarn_cache_pins") == 0


def test_a_stopping_gateway_shares_its_queue_first(gg, gateways, tmp_path):
    """StoreFile answered at once (goma.share_wait_ms = 0), SIGTERM right
    after: the files still queued go up before the gateway exits (a
    rolling restart must not cost the build's other gateways a round
    per file), and B finds every one. Uploads are fast, so a run may find
    the queue empty at SIGTERM: it is tried again with twice the files
    (3 times at most: 8,000, 16,000, 32,000) until
    the gateway had files left to share when told to stop."""
    drained = False
    for attempt in range(3):
        work = tmp_path / str(attempt)
        work.mkdir()
        proc, port, log_path = gmb_serve.start(
            work, 'goma = { share_wait_ms = 0; };\nbuildbarn = { instance_name = "hardlinking"; };', wait_s=10)
        salt = b"%d" % time.time_ns()
        contents = [b"queued %d " % i + salt for i in range(8000 << attempt)]
        blobs = [gg.FileBlob(blob_type=1, content=c, file_size=len(c)) for c in contents]
        try:
            with concurrent.futures.ThreadPoolExecutor(8) as pool:  # as a client's parallel uploads
                list(pool.map(lambda i: store(gg, port, blobs[i:i + 100]), range(0, len(blobs), 100)))
        finally:
            proc.terminate()
            assert proc.wait(timeout=30) == 0
        log = log_path.read_text()
        assert "not shared" not in log, log[-2000:]
        keys = [key(b) for b in blobs]
        resp = gg.LookupFileResp.FromString(
            post(gateways[1], "/l", gg.LookupFileReq(hash_key=keys).SerializeToString()))
        assert goma_rules.lookup_problems(resp, keys) == []
        assert [b.SerializeToString() for b in resp.blob] == [b.SerializeToString() for b in blobs]
        m = re.search(r"sharing the (\d+) goma files still queued", log)
        print("\nattempt %d: %s goma files queued at SIGTERM, all found on B" % (attempt + 1, m.group(1) if m else "no"))
        if m:
            drained = True
            break
    assert drained, "the queue was empty at SIGTERM 3 times: the drain was not exercised"


def test_a_plain_requests_system_files_are_not_looked_up(gg, gateways, tmp_path):
    """A plain request's system headers are the worker's own: nobody
    stores them, and B must not ask Buildbarn about them on every compile."""
    port_b = gateways[1]
    misses = metric(port_b, "gomabarn_files_remote_misses_total")
    unknown = hashlib.sha256(b"a system header nobody stored %d" % time.time_ns()).hexdigest()
    source = b"int f(void) { return 2; }\n"
    src_blob = gg.FileBlob(blob_type=1, content=source, file_size=len(source))
    req = gg.ExecReq(cwd=str(tmp_path), arg=["gcc", "-c", "a.c", "-o", "a.o"], expected_output_files=["a.o"])
    req.command_spec.name = "gcc"
    req.input.add(filename="a.c", hash_key=key(src_blob), content=src_blob)
    req.input.add(filename="/usr/include/stdio.h", hash_key=unknown)
    resp = gg.ExecResp.FromString(post(port_b, "/e", req.SerializeToString()))
    assert list(resp.missing_input) == []
    assert resp.result.exit_status == 0, resp.result.stderr_buffer
    assert metric(port_b, "gomabarn_files_remote_misses_total") == misses


def test_concurrent_execs_wait_for_a_shared_file_another_one_is_fetching(gg, gateways, tmp_path):
    """Many compiles at once name the same files stored through A (as a
    make -j build's first compiles on B do). The first request to find a
    key indexes it and fetches it; a request that then finds the key
    indexed while that fetch is still running must wait for it, not
    answer the file missing (seen as one needless missing-input round in
    the fault suite: the second request stored the content itself, and
    the store then still counted the blob as arriving, not pinnable).
    8 rounds of fresh files (8 FILEs and a FILE_META of 3 chunks), 12
    requests each; zero missing inputs."""
    port_a, port_b = gateways[0], gateways[1]
    rounds_before = metric(port_b, "gomabarn_exec_missing_input_rounds_total")
    for r in range(8):
        salt = b"%d-%d" % (time.time_ns(), r)
        headers = {"h%d.h" % i: b"/* %s %d */\n" % (salt, i) + b"/* padding */\n" * 60000 for i in range(8)}
        includes = b"".join(b'#include "%s"\n' % n.encode() for n in list(headers) + ["big.h"])
        source = includes + b"int a(void) { return 7; }\n"
        files = dict(headers, **{"a.c": source})
        blobs = {n: gg.FileBlob(blob_type=1, content=c, file_size=len(c)) for n, c in files.items()}
        # And a FILE_META of 3 chunks: its chunks may be arriving too.
        big = b"/* %s */\n" % salt + b"/* big padding */\n" * (5 * CHUNK // 18)
        chunks = [gg.FileBlob(blob_type=3, offset=o, content=big[o:o + CHUNK], file_size=len(big[o:o + CHUNK]))
                  for o in range(0, len(big), CHUNK)]
        for c in chunks:
            assert store(gg, port_a, [c]) == [key(c)]
        blobs["big.h"] = gg.FileBlob(blob_type=2, file_size=len(big), hash_key=[key(c) for c in chunks])
        assert store(gg, port_a, list(blobs.values())) == [key(b) for b in blobs.values()]
        keys = {n: key(b) for n, b in blobs.items()}
        dirs = [tmp_path / ("%d-%d" % (r, i)) for i in range(12)]
        for d in dirs:
            d.mkdir()
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(lambda d: exec_on(gg, port_b, d, keys), dirs))
        for resp in answers:
            assert list(resp.missing_input) == [], "round %d: %s" % (r, list(resp.missing_reason))
            assert resp.result.exit_status == 0, resp.result.stderr_buffer
    assert metric(port_b, "gomabarn_exec_missing_input_rounds_total") == rounds_before


class BuildbarnSwitch:
    """A TCP forwarder to Buildbarn's frontend that can be turned off:
    while off it closes every connection, open or new (the gateway behind
    it sees Buildbarn unavailable), as a network blip would. With stall
    set, it accepts connections and never answers (Buildbarn hung)."""

    def __init__(self, target=("127.0.0.1", 8980)):
        self.target, self.on, self.stall, self.conns = target, False, False, []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if self.stall:  # held open, never answered: calls wait out their deadlines
                self.conns.append(c)
                continue
            if not self.on:
                c.close()
                continue
            u = socket.create_connection(self.target)
            self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for x in (a, b):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def set(self, on):
        self.on = on
        if not on:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.conns = []

    def close(self):
        self.set(False)
        self.sock.close()


def test_a_file_whose_upload_failed_is_shared_when_stored_again(gg, gateways, tmp_path):
    """Buildbarn unreachable while gateway D uploads a stored file: the
    upload fails (counted, logged). Once Buildbarn is back, the client
    storing the file again must share it this time (before: the file
    stayed marked shared for the life of the process, and every other
    gateway cost the build a missing-input round for it)."""
    switch = BuildbarnSwitch()
    proc, port, log_path = gmb_serve.start(
        tmp_path, 'goma = { share_wait_ms = 0; };\nbuildbarn = { target = "127.0.0.1:%d"; '
        'instance_name = "hardlinking"; };' % switch.port, wait_s=10)
    try:
        content = b"stored while Buildbarn was away %d" % time.time_ns()
        blob = gg.FileBlob(blob_type=1, content=content, file_size=len(content))
        k = key(blob)
        failed = 'gomabarn_files_share_dropped_total{reason="failed"}'
        assert store(gg, port, [blob]) == [k]
        deadline = time.time() + 60
        while metric(port, failed) < 1 and time.time() < deadline:
            time.sleep(0.2)
        assert metric(port, failed) == 1, log_path.read_text()[-2000:]
        assert "not shared through Buildbarn" in log_path.read_text()
        switch.set(True)
        found, attempts = False, 0
        deadline = time.time() + 30  # the channel may wait out its reconnect backoff first
        while not found and time.time() < deadline:
            attempts += 1
            assert store(gg, port, [blob]) == [k]
            time.sleep(0.5)
            resp = gg.LookupFileResp.FromString(post(gateways[1], "/l", gg.LookupFileReq(hash_key=[k]).SerializeToString()))
            found = len(resp.blob) == 1 and resp.blob[0].blob_type == 1
            if not found:
                time.sleep(5)  # B remembers "not in Buildbarn" 5 s
        print("\nshared after %d StoreFile(s) once Buildbarn was back" % attempts)
        assert found, log_path.read_text()[-2000:]
        assert resp.blob[0].SerializeToString() == blob.SerializeToString()
    finally:
        gmb_serve.stop(proc)
        switch.close()


def test_keys_whose_lookup_failed_are_not_asked_again_one_by_one(gg, tmp_path):
    """Buildbarn unreachable: an Exec naming 8 keys the gateway does not
    hold looks them up in one round, which fails; the Exec then resolves
    its keys one by one and must not ask about each again (before: 8 more
    lookups, each waiting out goma.share_lookup_timeout_ms, one after the
    other, so a slow Buildbarn made an Exec wait N times the timeout).
    Counted by the gateway's lookups, not timed. The keys are answered
    missing, as a client that then uploads them expects."""
    switch = BuildbarnSwitch()  # off: every connection closed at once
    proc, port, _ = gmb_serve.start(
        tmp_path, 'goma = { share_lookup_timeout_ms = 300; };\nbuildbarn = { target = "127.0.0.1:%d"; '
        'instance_name = "hardlinking"; };' % switch.port, wait_s=10)
    try:
        keys = {"h%d.h" % i: hashlib.sha256(b"unreachable %d %d" % (i, time.time_ns())).hexdigest() for i in range(8)}
        asked = metric(port, "gomabarn_files_remote_misses_total")
        resp = exec_on(gg, port, tmp_path, keys)
        assert sorted(resp.missing_input) == sorted(keys)
        assert metric(port, "gomabarn_files_remote_misses_total") - asked == len(keys)
    finally:
        gmb_serve.stop(proc)
        switch.close()


def test_a_lookup_waiting_on_buildbarn_holds_no_other_request(gg, tmp_path):
    """LookupFile of a key the gateway does not hold asks Buildbarn; with
    Buildbarn hung that waits out goma.share_lookup_timeout_ms (6 s here).
    On a gateway with one HTTP thread, a ping sent meanwhile on another
    connection must be answered while the lookup still waits (before:
    the lookup ran on the HTTP thread and held every connection it
    serves, so the ping waited the 6 s out; it is given 3)."""
    switch = BuildbarnSwitch()
    switch.stall = True
    proc, port, _ = gmb_serve.start(
        tmp_path, 'goma = { share_lookup_timeout_ms = 6000; };\nbuildbarn = { target = "127.0.0.1:%d"; '
        'instance_name = "hardlinking"; };' % switch.port, http="threads = 1;", wait_s=10)
    try:
        k = hashlib.sha256(b"nobody has it %d" % time.time_ns()).hexdigest()
        answers = []
        looked_up = threading.Thread(target=lambda: answers.append(post(
            port, "/l", gg.LookupFileReq(hash_key=[k]).SerializeToString())))
        looked_up.start()
        time.sleep(0.5)  # the lookup is under way
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        c.request("POST", PREFIX + "/ping", body=b"")
        r = c.getresponse()
        assert r.status == 200 and r.read() == b"ok"
        c.close()
        assert looked_up.is_alive() and not answers  # the lookup still waits
        looked_up.join(timeout=30)
        resp = gg.LookupFileResp.FromString(answers[0])
        assert len(resp.blob) == 1 and resp.blob[0].blob_type == 0  # not found: goma's placeholder
    finally:
        gmb_serve.stop(proc)
        switch.close()
