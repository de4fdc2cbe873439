"""`gomabarn serve` over real HTTP: what a goma client needs from the
health check, the three body encodings, and status-code discipline (401
only for a bad token, never 302/403; 404/405/400/413 for bad requests),
and the daemon keeps serving after each bad request."""
import gzip
import hashlib
import http.client
import os
import subprocess
import time
import zlib

import pytest

import gmb_serve
import goma_rules

PREFIX = "/cxx-compiler-service"


@pytest.fixture(scope="module")
def gomabarn():
    path = os.environ.get("GMB_GOMABARN")
    if not path:
        pytest.fail("GMB_GOMABARN must name the built gomabarn (ctest sets it)")
    return path


def start(gomabarn, tmp_path, extra="", max_body=1048576):
    # Not shared through the cluster: what other runs stored there (the
    # same files, by content) would be found, and "nothing stored" fail.
    proc, port, _ = gmb_serve.start(tmp_path, extra + "\ngoma = { share_through_buildbarn = false; };",
                                    http="max_body_bytes = %d;" % max_body)
    return proc, port


def stop(proc):
    gmb_serve.stop(proc, timeout=10)  # clean exit (and no sanitizer report)

def request(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


@pytest.fixture
def server(gomabarn, tmp_path):
    proc, port = start(gomabarn, tmp_path)
    yield port
    stop(proc)


def test_ping_healthy_by_get_and_post(server):
    r, body = request(server, "GET", PREFIX + "/ping")
    assert r.status == 200 and body == b"ok"
    assert r.getheader("Accept-Encoding") == "gzip, deflate"
    r, body = request(server, "POST", PREFIX + "/ping", body=b"")
    assert r.status == 200 and body == b"ok"
    r, body = request(server, "POST", PREFIX + "/ping?rpc=extra&x=1", body=b"")
    assert r.status == 200  # query strings are ignored


def test_response_gzip_when_accepted(server):
    r, body = request(server, "GET", PREFIX + "/ping", headers={"Accept-Encoding": "gzip"})
    assert r.status == 200 and r.getheader("Content-Encoding") == "gzip"
    assert gzip.decompress(body) == b"ok"


def test_three_body_encodings(server):
    payload = b"\x0a\x03abc" * 1000
    goma_deflate = zlib.compress(payload)[2:]  # goma strips the zlib header
    for enc, body in [("gzip", gzip.compress(payload)), ("deflate", goma_deflate), (None, payload)]:
        headers = {"Content-Encoding": enc} if enc else {}
        r, _ = request(server, "POST", PREFIX + "/sl", body=body, headers=headers)
        assert r.status == 200, enc


def test_bad_requests_get_clear_codes_and_the_daemon_keeps_serving(server):
    cases = [
        ("GET", "/nowhere", None, {}, 404),
        ("GET", PREFIX + "/sl", None, {}, 405),
        ("POST", PREFIX + "/sl", b"garbage", {"Content-Encoding": "gzip"}, 400),
        ("POST", PREFIX + "/sl", b"x", {"Content-Encoding": "br"}, 400),
        ("POST", PREFIX + "/sl", b"\0" * (2 << 20), {}, 413),
        ("POST", PREFIX + "/sl", gzip.compress(b"\0" * (32 << 20)), {"Content-Encoding": "gzip"}, 413),
    ]
    for method, path, body, headers, want in cases:
        r, text = request(server, method, path, body=body, headers=headers)
        assert r.status == want, (path, headers, r.status, text)
        assert r.status not in (302, 401, 403)
        assert text.startswith(b"gomabarn: ")
        r, body2 = request(server, "GET", PREFIX + "/ping")
        assert r.status == 200 and body2 == b"ok"


def test_exec_refuses_a_body_that_is_no_exec_req(server):
    r, text = request(server, "POST", PREFIX + "/e", body=b"\x0a\xff")
    assert r.status == 400 and b"not an ExecReq" in text
    r, _ = request(server, "GET", PREFIX + "/ping")
    assert r.status == 200


def sha(blob):
    return hashlib.sha256(blob.SerializeToString()).hexdigest()


def small_exec(gg, files, cwd="/w"):
    """A compile of x.c with every file embedded, as goma sends new files."""
    req = gg.ExecReq(cwd=cwd, arg=["gcc", "-c", "x.c", "-o", "x.o"], expected_output_files=["x.o"])
    req.command_spec.name = "gcc"
    for name, data in files.items():
        b = gg.FileBlob(blob_type=1, content=data, file_size=len(data))
        req.input.add(filename=name, hash_key=sha(b)).content.CopyFrom(b)
    return req


def forged_exec(gg):
    """x.c's embedded content is not what its hash_key names."""
    req = small_exec(gg, {"x.c": b"int real;\n"})
    req.input[0].content.content = b"int forged;\n"
    req.input[0].content.file_size = 12
    return req


def exec_answer(gg, req, body):
    """The ExecResp in a 200, checked against the goma client's rules."""
    resp = gg.ExecResp.FromString(body)
    assert goma_rules.exec_resp_problems(resp, req) == []
    return resp


def test_store_and_lookup_files(gomabarn, tmp_path, gg):
    proc, port = start(gomabarn, tmp_path, max_body=16 << 20)
    try:
        chunk = bytes(range(256)) * 8192  # exactly 2 MiB
        good = [
            gg.FileBlob(blob_type=1, content=b"int x;\n", file_size=7),                 # FILE
            gg.FileBlob(blob_type=1, content=b"", file_size=0),                          # empty FILE
            gg.FileBlob(blob_type=3, offset=0, content=chunk, file_size=len(chunk)),    # FILE_CHUNK at 0
            gg.FileBlob(blob_type=2, file_size=3 << 20, hash_key=["aa" * 32, "bb" * 32]),  # FILE_META
        ]
        bad = [
            gg.FileBlob(blob_type=1, content=b"abc", file_size=4),     # size does not match
            gg.FileBlob(blob_type=3, offset=5, content=b"x"),          # breaks the chunk layout
            gg.FileBlob(blob_type=2, hash_key=["aa" * 32]),            # one chunk key is no META
            gg.FileBlob(blob_type=5, hash_key=[]),                     # FILE_REF without a key
        ]
        req = gg.StoreFileReq(blob=good + bad)
        r, body = request(port, "POST", PREFIX + "/s", body=gzip.compress(req.SerializeToString()),
                          headers={"Content-Encoding": "gzip"})
        assert r.status == 200
        stored = gg.StoreFileResp.FromString(body)
        assert goma_rules.store_problems(stored, req) == []
        keys = list(stored.hash_key)
        assert keys == [sha(b) for b in good] + [""] * len(bad)

        unknown = "cd" * 32
        look = gg.LookupFileReq(hash_key=[keys[0], unknown, keys[3], keys[2], keys[1]])
        r, body = request(port, "POST", PREFIX + "/l", body=look.SerializeToString())
        assert r.status == 200
        found = gg.LookupFileResp.FromString(body)
        assert goma_rules.lookup_problems(found, look.hash_key) == []
        blobs = list(found.blob)
        assert blobs[0] == good[0] and sha(blobs[0]) == keys[0]
        assert blobs[1].HasField("blob_type") and blobs[1].blob_type == 0  # FILE_UNSPECIFIED
        assert blobs[2] == good[3]
        assert blobs[3] == good[2] and blobs[3].HasField("offset")
        assert blobs[4] == good[1] and blobs[4].HasField("content")  # empty content still present

        r, text = request(port, "POST", PREFIX + "/s", body=b"\xff\xff\xff")
        assert r.status == 400 and b"StoreFileReq" in text
        r, _ = request(port, "GET", PREFIX + "/ping")
        assert r.status == 200
    finally:
        stop(proc)
    # Stored files outlive the daemon: after a restart LookupFile finds them.
    proc, port = start(gomabarn, tmp_path, max_body=16 << 20)
    try:
        r, body = request(port, "POST", PREFIX + "/l", body=gg.LookupFileReq(hash_key=[keys[0], keys[2]]).SerializeToString())
        assert r.status == 200
        assert list(gg.LookupFileResp.FromString(body).blob) == [good[0], good[2]]
    finally:
        stop(proc)


def test_tokens(gomabarn, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("# who may build\nsecret-a alice\nsecret-b\n")
    proc, port = start(gomabarn, tmp_path, 'auth = { mode = "tokens"; token_file = "%s"; };\n' % tokens)
    try:
        r, text = request(port, "GET", PREFIX + "/ping")
        assert r.status == 401 and b"bearer token" in text
        r, _ = request(port, "GET", PREFIX + "/ping", headers={"Authorization": "Bearer wrong"})
        assert r.status == 401
        r, body = request(port, "GET", PREFIX + "/ping", headers={"Authorization": "Bearer secret-a"})
        assert r.status == 200 and body == b"ok"
        r, _ = request(port, "POST", PREFIX + "/sl", body=b"", headers={"Authorization": "Bearer secret-b"})
        assert r.status == 200
        r, _ = request(port, "GET", "/healthz")  # load balancers carry no token
        assert r.status == 200
    finally:
        stop(proc)


def test_config_errors_name_file_and_line(gomabarn, tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text('http = {\n  prot = 5050;\n};\n')
    r = subprocess.run([gomabarn, "serve", "--config", str(conf)], capture_output=True, text=True)
    assert r.returncode == 1
    assert "bad.conf:2: unknown key \"http.prot\"" in r.stderr


def test_buildbarn_unreachable_is_a_retryable_error(gomabarn, tmp_path, gg):
    proc, port = start(gomabarn, tmp_path,
                       'buildbarn = { target = "127.0.0.1:1"; retry = { max_attempts = 2; initial_backoff_ms = 10; }; };\n')
    try:
        req = small_exec(gg, {"x.c": b"int x;\n"}, cwd=str(tmp_path))
        t0 = time.time()
        r, body = request(port, "POST", PREFIX + "/e", body=req.SerializeToString())
        assert time.time() - t0 < 10
        # 200 with an error message: goma's client logs it and retries; it
        # never sees exit status 0 without outputs.
        assert r.status == 200
        resp = exec_answer(gg, req, body)
        assert not resp.HasField("result")
        assert resp.error != -1  # not BAD_REQUEST: worth retrying
        assert any("Buildbarn" in m and "connect" in m for m in resp.error_message), resp.error_message
        r, _ = request(port, "GET", PREFIX + "/ping")
        assert r.status == 200
    finally:
        stop(proc)


def test_keep_alive_one_connection_many_requests(server, gg):
    """goma's client keeps its connection: every request on one socket,
    and every 200 tells it which body encodings we decode."""
    c = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
    blob = gg.FileBlob(blob_type=1, content=b"int kept;\n", file_size=10)
    steps = [
        ("GET", PREFIX + "/ping", None, {}),
        ("POST", PREFIX + "/ping", b"", {}),
        ("POST", PREFIX + "/s", gzip.compress(gg.StoreFileReq(blob=[blob]).SerializeToString()),
         {"Content-Encoding": "gzip"}),
        ("POST", PREFIX + "/l", zlib.compress(gg.LookupFileReq(hash_key=[sha(blob)]).SerializeToString())[2:],
         {"Content-Encoding": "deflate"}),
        ("POST", PREFIX + "/sl", b"", {}),
    ]
    sock = None
    answers = {}
    for method, path, body, headers in steps:
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        data = answers[path] = r.read()
        assert r.status == 200, (path, data)
        assert r.getheader("Connection", "").lower() != "close"
        accepted = {e.strip() for e in r.getheader("Accept-Encoding", "").split(",")}
        assert {"gzip", "deflate"} <= accepted, path
        if sock is None:
            sock = c.sock
        assert c.sock is sock, "the server closed the connection after " + path
    c.close()
    assert list(gg.LookupFileResp.FromString(answers[PREFIX + "/l"]).blob) == [blob]


def test_exec_refuses_content_that_does_not_match_its_key(server, gg):
    """A wrong hash: BAD_REQUEST naming the file (the client builds
    locally), nothing stored, and the daemon keeps serving: the same
    file with its true content is then stored and found."""
    req = forged_exec(gg)
    r, body = request(server, "POST", PREFIX + "/e", body=req.SerializeToString())
    assert r.status == 200
    resp = exec_answer(gg, req, body)
    assert resp.error == -1 and not resp.HasField("result")  # -1: ExecError.BAD_REQUEST
    assert any("x.c" in m and "hash" in m for m in resp.error_message), resp.error_message
    claimed = req.input[0].hash_key
    look = gg.LookupFileReq(hash_key=[claimed]).SerializeToString()
    r, body = request(server, "POST", PREFIX + "/l", body=look)
    assert r.status == 200 and gg.LookupFileResp.FromString(body).blob[0].blob_type == 0  # not stored
    real = gg.FileBlob(blob_type=1, content=b"int real;\n", file_size=10)
    r, body = request(server, "POST", PREFIX + "/s", body=gg.StoreFileReq(blob=[real]).SerializeToString())
    assert r.status == 200 and list(gg.StoreFileResp.FromString(body).hash_key) == [claimed]
    r, body = request(server, "POST", PREFIX + "/l", body=look)
    assert r.status == 200 and list(gg.LookupFileResp.FromString(body).blob) == [real]


def test_status_codes_never_disable_the_client(gomabarn, tmp_path, gg):
    """302, 401 and 403 switch goma's client off for 10 to 20 minutes: bad
    input of every kind gets another code, and 401 only a wrong token.
    Buildbarn is unreachable here; the real one's answers (e.g. for an
    unknown instance name) are 200s checked by test_goma_exec's call()."""
    tokens = tmp_path / "tokens"
    tokens.write_text("good-token\n")
    proc, port = start(gomabarn, tmp_path, 'auth = { mode = "tokens"; token_file = "%s"; };\n'
                       'buildbarn = { target = "127.0.0.1:1"; retry = { max_attempts = 2; initial_backoff_ms = 10; }; };\n'
                       % tokens)
    auth = {"Authorization": "Bearer good-token"}
    good = small_exec(gg, {"x.c": b"int x;\n"})
    escape = small_exec(gg, {"../../../../etc/x": b"x"}, cwd="/a")
    bad_inputs = {
        "unknown path": ("GET", "/nowhere", None, {}),
        "wrong method": ("GET", PREFIX + "/e", None, {}),
        "truncated protobuf": ("POST", PREFIX + "/e", b"\x0a\xff", {}),
        "undecodable gzip": ("POST", PREFIX + "/s", b"junk", {"Content-Encoding": "gzip"}),
        "oversize body": ("POST", PREFIX + "/s", b"\0" * (2 << 20), {}),
        "path escape": ("POST", PREFIX + "/e", escape, {}),
        "wrong hash": ("POST", PREFIX + "/e", forged_exec(gg), {}),
        "unknown instance": ("POST", PREFIX + "/e", good, {"X-Gomabarn-Instance": "no-such-pool"}),
        "unreachable Buildbarn": ("POST", PREFIX + "/e", good, {}),
    }
    try:
        seen = {}
        for what, (method, path, body, headers) in bad_inputs.items():
            wire = body.SerializeToString() if hasattr(body, "SerializeToString") else body
            r, text = request(port, method, path, body=wire, headers={**auth, **headers})
            seen[what] = r.status
            assert text, what  # always a message
            if r.status == 200:  # goma errors travel in a valid ExecResp
                exec_answer(gg, body, text)
        r, _ = request(port, "GET", PREFIX + "/ping", headers={"Authorization": "Bearer not-it"})
        seen["bad token"] = r.status
        assert not {302, 403} & set(seen.values()), seen
        assert [w for w, s in seen.items() if s == 401] == ["bad token"], seen
        r, _ = request(port, "GET", PREFIX + "/ping", headers=auth)
        assert r.status == 200
    finally:
        stop(proc)
