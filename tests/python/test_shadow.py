"""Shadow execution through `gomabarn serve` -> the real Buildbarn
(integration): a routing rule sends gcc requests to `hardlinking` and
shadows every one on `fuse`, cache bypassed. Hermetic compiles match; a
non-hermetic action is a mismatch whose two outputs open side by side
under the mount; the X-Gomabarn-Shadow header shadows a request the rules
do not; /metrics counts shadows and observes worker phases per pool; the
comparison pages (with their SVG chart) and `gomabarn compare` (text,
JSON, exit status) show the same figures; a full shadow queue drops
shadows (counted) and the client's answers do not change."""
import gzip
import hashlib
import http.client
import json
import os
import re
import subprocess
import time

import pytest

import gmb_serve

PREFIX = "/cxx-compiler-service"


def start(tmp, extra):
    mount = str(tmp / "mnt")
    proc, port, _ = gmb_serve.start(tmp, 'mount = { enabled = true; path = "%s"; };\n%s' % (mount, extra))
    return proc, port, mount, tmp / "gomabarn.conf"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shadow")
    proc, port, mount, conf = start(tmp, 'routing = { rules = ["compiler=gcc -> hardlinking shadow fuse"]; };\n'
                                          'shadow = { max_in_flight = 2; };')
    yield {"port": port, "mount": mount, "conf": str(conf)}
    gmb_serve.stop(proc)


def key(blob):
    return hashlib.sha256(blob.SerializeToString()).hexdigest()


def exec_req(gg, files, args, outputs, compiler="gcc"):
    req = gg.ExecReq(cwd="/tmp/w", arg=args, expected_output_files=outputs, cache_policy=1)
    req.command_spec.name = compiler
    for name, data in files.items():
        b = gg.FileBlob(blob_type=1, content=data, file_size=len(data))
        req.input.add(filename=name, hash_key=key(b)).content.CopyFrom(b)
    return req


def call(gg, port, req, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    h = {"Content-Encoding": "gzip"}
    h.update(headers or {})
    c.request("POST", PREFIX + "/e", body=gzip.compress(req.SerializeToString()), headers=h)
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200, body
    resp = gg.ExecResp.FromString(body)
    assert resp.result.exit_status == 0, resp
    return resp


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, body


def report(port, query=""):
    status, body = get(port, "/compare/report?format=json" + query)
    assert status == 200, body
    return json.loads(body)


def wait_for(port, done, what, secs=180):
    deadline = time.time() + secs
    while time.time() < deadline:
        r = report(port)
        if done(r):
            return r
        time.sleep(0.3)
    pytest.fail("waiting for %s; last report: %s" % (what, json.dumps(r)[:2000]))


def metric(text, series):
    m = re.search("^" + re.escape(series) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


RUN_TOKEN = os.urandom(8).hex().encode()  # new actions on every run: nothing cached from an earlier one


def compile_req(gg, k):
    src = b'int f(void) { return %d; } /* %s */\n' % (k, RUN_TOKEN)
    return exec_req(gg, {"/tmp/w/f.c": src}, ["gcc", "-O2", "-c", "f.c", "-o", "f.o"], ["f.o"])


def test_hermetic_compiles_match_and_metrics_count_them(gg, gateway):
    port = gateway["port"]
    for k in range(6):
        call(gg, port, compile_req(gg, 1000 + k))
    r = wait_for(port, lambda r: r["actions"] >= 6, "6 shadows")
    assert r["matched"] == 6 and r["mismatched"] == 0 and r["failed"] == 0, r
    pair = r["pairs"][0]
    assert pair["instances"] == ["hardlinking", "fuse"], pair
    fuse = pair["per_instance"][1]
    assert fuse["runs"] == 6 and fuse["cached"] == 0, fuse
    assert fuse["phases_s"]["execution"]["n"] == 6 and fuse["phases_s"]["total"]["p50"] > 0, fuse
    # The primaries executed (first time each): their phases count too.
    assert pair["per_instance"][0]["phases_s"]["total"]["n"] == 6, pair

    status, text = get(port, "/metrics")
    assert metric(text, 'gomabarn_shadow_matched_total{primary="hardlinking",shadow="fuse"}') == 6
    assert metric(text, 'gomabarn_shadow_submitted_total{primary="hardlinking",shadow="fuse"}') == 6
    assert metric(text, 'gomabarn_worker_phase_seconds_count{instance="fuse",phase="execution"}') >= 6
    assert metric(text, 'gomabarn_worker_phase_seconds_count{instance="hardlinking",phase="queued"}') >= 6
    assert "# TYPE gomabarn_worker_phase_seconds histogram" in text

    # A cache hit on the primary is shadowed too (the shadow always executes),
    # but its old timings are not counted again.
    call(gg, port, compile_req(gg, 1000))
    r = wait_for(port, lambda r: r["actions"] >= 7, "the hit's shadow")
    pair = r["pairs"][0]
    assert pair["per_instance"][0]["cached"] == 1, pair
    assert pair["per_instance"][0]["phases_s"]["total"]["n"] == 6, pair
    assert pair["per_instance"][1]["phases_s"]["total"]["n"] == 7, pair


def test_non_hermetic_action_is_a_mismatch_open_side_by_side(gg, gateway):
    port, mount = gateway["port"], gateway["mount"]
    before = report(port)["mismatched"]
    req = exec_req(gg, {"/tmp/w/x": b"x"}, ["/bin/sh", "-c", "date +%s%N > out"], ["out"])
    call(gg, port, req)
    r = wait_for(port, lambda r: r["mismatched"] > before, "the mismatch")
    mm = r["pairs"][0]["mismatches"][-1]
    assert mm["differences"][0]["what"] == "output out", mm
    values = mm["differences"][0]["values"]
    assert values["hardlinking"] != values["fuse"], mm
    action, twin = mm["action"].replace("/", "-"), mm["executed"].replace("/", "-")
    assert action != twin  # the shadow ran the do_not_cache twin
    a = open(os.path.join(mount, "by-instance/hardlinking", action, "output/out"), "rb").read()
    b = open(os.path.join(mount, "by-instance/fuse", twin, "output/out"), "rb").read()
    assert a != b and a.strip().isdigit() and b.strip().isdigit(), (a, b)
    # The digests listed are those of the bytes under the mount.
    assert values["hardlinking"].startswith(hashlib.sha256(a).hexdigest()), (values, a)
    assert values["fuse"].startswith(hashlib.sha256(b).hexdigest()), (values, b)

    status, page = get(port, "/compare/pair?primary=hardlinking&shadow=fuse")
    assert status == 200 and "<svg" in page and "</svg>" in page, page[:500]
    for phase in ("queued", "input_fetch", "execution", "output_upload", "total"):
        assert "<td>%s</td>" % phase in page
    assert "by-instance/fuse/" + twin + "/output" in page
    assert "by-instance/hardlinking/" + action + "/output" in page
    assert "<script" not in page
    status, index = get(port, "/compare")
    assert status == 200 and "/compare/pair?primary=hardlinking&amp;shadow=fuse" in index, index
    status, _ = get(port, "/compare/pair?primary=hardlinking")
    assert status == 400
    status, _ = get(port, "/compare/report?since=soon")
    assert status == 400


def test_header_shadows_what_the_rules_do_not(gg, gateway):
    port = gateway["port"]
    req = exec_req(gg, {"/tmp/w/g.c": b"int g(void) { return 7; } /* %s */\n" % RUN_TOKEN}, ["gcc", "-c", "g.c", "-o", "g.o"], ["g.o"],
                   compiler="clang")
    call(gg, port, req, {"X-Gomabarn-Instance": "fuse", "X-Gomabarn-Shadow": "hardlinking"})
    r = wait_for(port, lambda r: any(p["instances"] == ["fuse", "hardlinking"] for p in r["pairs"]),
                 "the fuse -> hardlinking pair")
    pair = [p for p in r["pairs"] if p["instances"] == ["fuse", "hardlinking"]][0]
    assert pair["matched"] == 1, pair
    # A malformed header is the client's mistake: refused in plain words.
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("POST", PREFIX + "/e", body=gzip.compress(req.SerializeToString()),
              headers={"Content-Encoding": "gzip", "X-Gomabarn-Shadow": "hardlinking 500%"})
    resp = c.getresponse()
    body = resp.read()
    assert resp.status == 200
    er = gg.ExecResp.FromString(body)
    assert any("X-Gomabarn-Shadow" in m for m in er.error_message), er


def test_gomabarn_compare_prints_the_table_and_exits_on_mismatch(gg, gateway):
    port = gateway["port"]
    exe = os.environ["GMB_GOMABARN"]
    p = subprocess.run([exe, "compare", "--gateway", "127.0.0.1:%d" % port], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 1, p  # the mismatch above
    assert re.search(r"^\d+ shadowed actions in 2 instance pairs: \d+ matched, 1 mismatched, 0 failed$", p.stdout,
                     re.M), p.stdout
    assert "== hardlinking vs fuse ==" in p.stdout and "== fuse vs hardlinking ==" in p.stdout
    assert re.search(r"^execution +hardlinking +\d+ ", p.stdout, re.M), p.stdout
    assert "output out differs:" in p.stdout

    p = subprocess.run([exe, "compare", "--gateway", "127.0.0.1:%d" % port, "--json", "--since", "1h", "fuse",
                        "hardlinking"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p  # that pair only matched
    r = json.loads(p.stdout)
    assert r["since_s"] == 3600 and len(r["pairs"]) == 1 and r["matched"] == 1, r

    for bad in (["--since", "soon"], ["fuse"], ["--gateway", "nowhere"]):
        p = subprocess.run([exe, "compare", "--gateway", "127.0.0.1:%d" % port] + bad, capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 2, (bad, p)
    # Nothing listening: exit 2 with the reason.
    p = subprocess.run([exe, "compare", "--gateway", "127.0.0.1:1"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "cannot ask the gateway at 127.0.0.1:1" in p.stderr, p


def test_full_shadow_queue_drops_and_answers_stay_the_same(gg, tmp_path):
    proc, port, _, _ = start(tmp_path, 'routing = { rules = ["compiler=gcc -> hardlinking shadow fuse"]; };\n'
                                       'shadow = { max_queued = 0; };')
    try:
        resp = call(gg, port, compile_req(gg, 2000))
        assert resp.result.output[0].filename == "f.o"
        status, text = get(port, "/metrics")
        assert metric(text, 'gomabarn_shadow_dropped_total{primary="hardlinking",shadow="fuse"}') == 1, text
        assert report(port)["actions"] == 0
    finally:
        gmb_serve.stop(proc)
