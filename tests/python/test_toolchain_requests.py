"""toolchain_included requests that gomabarn must refuse before anything
reaches Buildbarn (so no cluster is needed: the configured Buildbarn is an
unreachable port): no toolchain specs, a spec whose SHA-256 or size
differs from its input, a spec file missing from the inputs, a symlink
spec climbing above "/". Each gets ExecResp.error = BAD_REQUEST (the
client then compiles locally, without disabling itself) with a message
naming the file, and the daemon keeps serving. The served case is in
tests/integration/cc_test.sh (a real compile with a shipped gcc)."""
import gzip
import hashlib
import http.client

import pytest

import gmb_serve
import goma_rules

PREFIX = "/cxx-compiler-service"
BAD_REQUEST = -1  # ExecResp.ExecError.BAD_REQUEST


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    proc, found, _ = gmb_serve.start(tmp_path_factory.mktemp("toolchain_serve"),
                                     'buildbarn = { target = "127.0.0.1:1"; call_timeout_ms = 2000; };')
    yield found
    gmb_serve.stop(proc, timeout=20)

def blob(gg, data):
    return gg.FileBlob(blob_type=1, content=data, file_size=len(data))


def toolchain_req(gg, specs, files):
    """A compile of /w/a.c with a shipped compiler at /opt/tc/bin/cc."""
    req = gg.ExecReq(cwd="/w", arg=["/opt/tc/bin/cc", "-c", "a.c", "-o", "a.o"], expected_output_files=["a.o"],
                     toolchain_included=True)
    req.command_spec.name = "cc"
    req.requester_info.compiler_proxy_id = "toolchain-test"
    for name, data in files.items():
        b = blob(gg, data)
        req.input.add(filename=name, hash_key=hashlib.sha256(b.SerializeToString()).hexdigest()).content.CopyFrom(b)
    for s in specs:
        req.toolchain_specs.add(**s)
    return req


def exec_call(gg, port, req):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", PREFIX + "/e", body=gzip.compress(req.SerializeToString()), headers={"Content-Encoding": "gzip"})
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200, body  # goma errors travel in the ExecResp
    resp = gg.ExecResp.FromString(body)
    assert goma_rules.exec_resp_problems(resp, req) == []
    return resp


def still_serving(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", PREFIX + "/ping")
    assert c.getresponse().status == 200
    c.close()


COMPILER = b"\x7fELF pretend compiler"
SOURCE = b"int a(void) { return 1; }\n"


def spec_of(path, data, **extra):
    return dict(path=path, hash=hashlib.sha256(data).hexdigest(), size=len(data), is_executable=True, **extra)


@pytest.mark.parametrize("specs,files,words", [
    ([], {"a.c": SOURCE, "/opt/tc/bin/cc": COMPILER}, ["toolchain_specs is empty"]),
    ([dict(spec_of("/opt/tc/bin/cc", COMPILER), hash="0" * 64)], {"a.c": SOURCE, "/opt/tc/bin/cc": COMPILER},
     ["/opt/tc/bin/cc", "toolchain_specs says sha256 0000"]),
    ([dict(spec_of("/opt/tc/bin/cc", COMPILER), size=1)], {"a.c": SOURCE, "/opt/tc/bin/cc": COMPILER},
     ["/opt/tc/bin/cc", "size 1"]),
    ([spec_of("/opt/tc/bin/cc", COMPILER)], {"a.c": SOURCE}, ["/opt/tc/bin/cc", "not among the inputs"]),
    ([spec_of("/opt/tc/bin/cc", COMPILER), dict(path="/opt/tc/bin/c++", symlink_path="../../../../../x")],
     {"a.c": SOURCE, "/opt/tc/bin/cc": COMPILER}, ["/opt/tc/bin/c++", "climbs above"]),
], ids=["no-specs", "wrong-hash", "wrong-size", "not-an-input", "symlink-escape"])
def test_bad_toolchain_requests_are_bad_requests(gg, port, specs, files, words):
    resp = exec_call(gg, port, toolchain_req(gg, specs, files))
    assert resp.error == BAD_REQUEST
    assert not resp.HasField("result")
    text = " ".join(resp.error_message)
    for w in words:
        assert w in text, text
    still_serving(port)


def test_buildbarn_errors_name_the_routed_instance(gg, port):
    """A valid toolchain request passes the checks; with Buildbarn
    unreachable the retryable error names the instance the header chose."""
    req = toolchain_req(gg, [spec_of("/opt/tc/bin/cc", COMPILER)], {"a.c": SOURCE, "/opt/tc/bin/cc": COMPILER})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", PREFIX + "/e", body=req.SerializeToString(), headers={"X-Gomabarn-Instance": "fuse"})
    r = c.getresponse()
    resp = gg.ExecResp.FromString(r.read())
    c.close()
    assert r.status == 200
    assert goma_rules.exec_resp_problems(resp, req) == []
    assert resp.error != BAD_REQUEST  # the toolchain request itself is fine
    assert 'instance "fuse"' in " ".join(resp.error_message)
    still_serving(port)
