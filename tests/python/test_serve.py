"""`gomabarn serve` over real HTTP: what a goma client needs from the
health check, the three body encodings, and status-code discipline (401
only for a bad token, never 302/403; 404/405/400/413 for bad requests),
and the daemon keeps serving after each bad request."""
import gzip
import http.client
import os
import re
import subprocess
import time
import zlib

import pytest

PREFIX = "/cxx-compiler-service"


@pytest.fixture(scope="module")
def gomabarn():
    path = os.environ.get("GMB_GOMABARN")
    if not path:
        pytest.fail("GMB_GOMABARN must name the built gomabarn (ctest sets it)")
    return path


def start(gomabarn, tmp_path, extra=""):
    conf = tmp_path / "gomabarn.conf"
    conf.write_text('http = { port = 0; max_body_bytes = 1048576; };\n' + extra)
    proc = subprocess.Popen([gomabarn, "serve", "--config", str(conf)], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    while time.time() < deadline:
        line = proc.stderr.readline()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if m:
            return proc, int(m.group(1))
    proc.kill()
    pytest.fail("gomabarn serve did not start")


def stop(proc):
    proc.terminate()
    assert proc.wait(timeout=10) == 0  # clean exit (and no sanitizer report)


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


def test_not_yet_served_endpoints_say_so(server):
    for ep in ("e", "s", "l"):
        r, text = request(server, "POST", PREFIX + "/" + ep, body=b"")
        assert r.status == 501 and b"not served by this build yet" in text


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
