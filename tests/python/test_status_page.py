"""The status pages a person reads, rendered by a real browser (headless
Chromium, the Debian package) against a gateway on the real Buildbarn
(integration): after Exec traffic of every outcome (executed, cache hit,
missing-input round, bad request, a compile failing remotely), the front
page has its three SVG charts, and every figure it shows from /metrics
(data-value beside the human text) equals /metrics; the request table
filters by state; the per-build summary counts that build's requests by
outcome, reason and instance name (HTML and JSON); /compare/pair draws its
chart. A screenshot of the front page is left in /tmp/gomabarn-status.png."""
import gzip
import hashlib
import html.parser
import http.client
import json
import os
import re
import shutil
import subprocess
import time

import pytest

import gmb_serve
from gmb_serve import get, metrics

PREFIX = "/cxx-compiler-service"
RUN = os.urandom(6).hex()
BUILD = "tester@buildhost:8088/%s" % RUN  # the compiler_proxy id before the task number
SCREENSHOT = "/tmp/gomabarn-status.png"  # and -build.png, -compare.png beside it


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("chromium is not installed: scripts/install-deps.sh installs it (Debian package chromium); "
                "this test renders the status pages in a real browser")


def browse(tmp, url, *extra):
    """Runs headless Chromium on url; returns its stdout (the DOM with --dump-dom)."""
    args = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--user-data-dir=%s" % (tmp / "chromium-profile"), "--hide-scrollbars"] + list(extra) + [url]
    r = subprocess.run(args, capture_output=True, timeout=180)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    return r.stdout.decode()


class Dom(html.parser.HTMLParser):
    """Elements by id, the data-metric cells, and table rows as text."""

    def __init__(self, text):
        super().__init__()
        self.ids, self.metrics, self.rows, self.row, self.tables, self.svgs = {}, [], [], None, [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids[a["id"]] = tag
        if "data-metric" in a:
            self.metrics.append((a["data-metric"], int(a["data-value"])))
        if tag == "svg":
            self.svgs.append(a.get("id"))
        if tag == "table":
            self.tables.append(a.get("id"))
        if tag == "tr":
            self.row = []
        if tag in ("td", "th") and self.row is not None:
            self.row.append("")

    def handle_endtag(self, tag):
        if tag == "tr" and self.row is not None:
            self.rows.append((self.tables[-1] if self.tables else None, self.row))
            self.row = None

    def handle_data(self, data):
        if self.row:
            self.row[-1] += data

    def table(self, table_id):
        return [r for t, r in self.rows if t == table_id]


def key(blob):
    return hashlib.sha256(blob.SerializeToString()).hexdigest()


def exec_req(gg, task, files, args, outputs, embed=True, compiler="gcc"):
    req = gg.ExecReq(cwd="/tmp/w", arg=args, expected_output_files=outputs)
    req.command_spec.name = compiler
    req.requester_info.compiler_proxy_id = "%s/%d" % (BUILD, task)
    for name, data in files.items():
        b = gg.FileBlob(blob_type=1, content=data, file_size=len(data))
        inp = req.input.add(filename=name, hash_key=key(b))
        if embed:
            inp.content.CopyFrom(b)
    return req


def call(gg, port, req):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=180)
    c.request("POST", PREFIX + "/e", body=gzip.compress(req.SerializeToString()),
              headers={"Content-Encoding": "gzip"})
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200, body
    return gg.ExecResp.FromString(body)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, gg):
    tmp = tmp_path_factory.mktemp("status")
    proc, port, _ = gmb_serve.start(tmp, 'routing = { rules = ["compiler=gcc -> hardlinking shadow fuse"]; };')
    try:
        send_traffic(gg, port)
        yield {"port": port, "tmp": tmp}
    finally:
        gmb_serve.stop(proc)


def send_traffic(gg, port):
    src = b"int f(void) { return 7; } /* %s */\n" % RUN.encode()
    compile_args = ["gcc", "-c", "f.c", "-o", "f.o"]
    # A missing-input round, then the same with the file: executed; again: a hit.
    assert list(call(gg, port, exec_req(gg, 1, {"/tmp/w/f.c": src}, compile_args, ["f.o"], embed=False))
                .missing_input) == ["/tmp/w/f.c"]
    assert call(gg, port, exec_req(gg, 1, {"/tmp/w/f.c": src}, compile_args, ["f.o"])).result.exit_status == 0
    assert call(gg, port, exec_req(gg, 2, {"/tmp/w/f.c": src}, compile_args, ["f.o"])).cache_hit != 0
    # A compile that fails remotely (the client would compile it locally).
    bad_src = b"int g(void) { return } /* %s */\n" % RUN.encode()
    assert call(gg, port, exec_req(gg, 3, {"/tmp/w/g.c": bad_src}, ["gcc", "-c", "g.c", "-o", "g.o"],
                                   ["g.o"])).result.exit_status != 0
    # A bad request: an absolute output path outside the working directory.
    resp = call(gg, port, exec_req(gg, 4, {"/tmp/w/f.c": src}, compile_args, ["/abs/f.o"]))
    assert resp.error == -1  # BAD_REQUEST
    # The shadows (on fuse) finish before the pages are read.
    deadline = time.time() + 180
    while time.time() < deadline:
        r = json.loads(get(port, "/compare/report?format=json")[1])
        if r["actions"] >= 3:
            break
        time.sleep(0.5)


def screenshot(tmp, url, path, height):
    if os.path.exists(path):
        os.unlink(path)
    browse(tmp, url, "--screenshot=%s" % path, "--window-size=1280,%d" % height)
    assert os.path.getsize(path) > 20000


def test_front_page_in_a_browser_shows_charts_and_the_metrics_values(gateway):
    port, tmp = gateway["port"], gateway["tmp"]
    want = metrics(port)
    dom = Dom(browse(tmp, "http://127.0.0.1:%d/" % port, "--dump-dom"))
    for chart in ("chart-rate", "chart-latency", "chart-hit-rate"):
        assert chart in dom.svgs, dom.svgs
    # Every figure taken from /metrics is the same number there (gauges of
    # the content store and the HTTP server may move between the reads).
    # (the page itself makes a GetCapabilities call: one more than /metrics saw)
    moving = ("gomabarn_http_in_flight", "gomabarn_blob_memory", "gomabarn_buildbarn_calls_total")
    assert len(dom.metrics) >= 25, dom.metrics
    for series, value in dom.metrics:
        if not series.startswith(moving):
            assert value == want.get(series, 0), (series, value, want.get(series))
    shown = dict(dom.metrics)
    assert shown['gomabarn_exec_requests_total{outcome="done"}'] >= 3
    assert shown["gomabarn_exec_cache_hits_total"] >= 1
    assert shown['gomabarn_exec_errors_total{reason="inputs refused"}'] == 1
    # The tiles: requests finished in the last minutes = all the outcomes.
    finished = sum(v for k, v in want.items() if k.startswith("gomabarn_exec_requests_total{"))
    tiles = {r[0]: r for r in dom.table("outcomes")}
    assert any("inputs refused" in r[0] for r in dom.table("outcomes")), dom.table("outcomes")
    assert int(tiles["missing-input round"][2]) == want['gomabarn_exec_requests_total{outcome="missing"}']
    page = get(port, "/")[1]
    assert re.search(r'id="tile-requests"><b>%d</b>' % finished, page), finished
    assert "reachable (GetCapabilities answered)" in page
    # Nothing fetched from elsewhere: no script, no font, no remote file.
    assert "<script" not in page and "@font-face" not in page
    assert not re.search(r'(src|href|url)[=(]"?https?:', page)
    # Human units, not raw numbers.
    assert re.search(r"up \d+ (s|min) &middot;", page)
    assert re.search(r'data-metric="gomabarn_buildbarn_bytes_up_total" data-value="\d+">[0-9.]+ (bytes|KiB|MiB)<',
                     page)
    rows = dom.table("instances")
    assert any(r[0] == '"hardlinking"' and int(r[2]) >= 5 for r in rows), rows
    # The screenshot a person looks at.
    screenshot(tmp, "http://127.0.0.1:%d/" % port, SCREENSHOT, 2400)


def test_request_table_filters_by_state_and_instance(gateway):
    port = gateway["port"]
    status, page = get(port, "/?state=bad")
    assert status == 200
    states = re.findall(r'<td><a href="/request/\d+">\d+</a></td><td>[^<]*</td><td class="(\w+)">', page)
    assert states == ["bad"], states
    status, page = get(port, "/?instance=fuse")
    assert not re.findall(r'<td><a href="/request/\d+">', page)  # shadows are not Exec requests
    status, page = get(port, "/?instance=hardlinking&state=done")
    assert len(re.findall(r'<td class="done">done</td>', page)) >= 3


def test_build_summary_counts_the_build(gateway):
    port, tmp = gateway["port"], gateway["tmp"]
    status, body = get(port, "/build?prefix=%s&format=json" % BUILD)
    assert status == 200, body
    b = json.loads(body)
    t = b["totals"]
    assert (t["requests"], t["hits"], t["executed"], t["missing_input_rounds"], t["bad"], t["failed"]) == \
        (5, 1, 2, 1, 1, 0), b
    assert b["exit_nonzero"] == 1
    reasons = {r["reason"]: r for r in b["local_fallback_reasons"]}
    assert reasons["inputs refused"]["bad"] == 1, reasons
    assert reasons["compile failed remotely (exit status not 0)"]["executed"] == 1, reasons
    assert [i["instance"] for i in b["instances"]] == ["hardlinking"], b
    assert len(b["recent_requests"]) == 5 and all(r["compiler_proxy_id"].startswith(BUILD + "/")
                                                  for r in b["recent_requests"])
    # The last build is this one; /builds lists it.
    assert json.loads(get(port, "/build?format=json")[1])["prefix"] == BUILD
    assert BUILD in [x["prefix"] for x in json.loads(get(port, "/builds?format=json")[1])["builds"]]
    # In the browser.
    dom = Dom(browse(tmp, "http://127.0.0.1:%d/build?prefix=%s" % (port, BUILD), "--dump-dom"))
    totals = dom.table("build-totals")
    assert totals[1][:6] == ["5", "1", "2", "1", "0", "1"], totals
    assert any(r[0] == '"hardlinking"' for r in dom.table("build-instances"))
    assert len(dom.table("build-requests")) == 1 + 5
    screenshot(tmp, "http://127.0.0.1:%d/build?prefix=%s" % (port, BUILD), SCREENSHOT.replace("status", "build"), 1000)
    # A time window, and plain-word errors for bad arguments.
    assert json.loads(get(port, "/build?since=3600&format=json")[1])["totals"]["requests"] >= 5
    assert get(port, "/build?since=soon")[0] == 400
    assert get(port, "/build?prefix=nobody@nowhere:1/2")[0] == 404


def test_compare_pair_page_in_a_browser_has_its_chart(gateway):
    port, tmp = gateway["port"], gateway["tmp"]
    want = metrics(port)
    page = browse(tmp, "http://127.0.0.1:%d/compare/pair?primary=hardlinking&shadow=fuse" % port, "--dump-dom")
    assert "phase-chart" in Dom(page).svgs
    m = re.search(r"(\d+) actions, (\d+) matched, <span[^>]*>(\d+) mismatched</span>, (\d+) failed", page)
    assert m, page[:3000]
    pair = '{primary="hardlinking",shadow="fuse"}'
    assert int(m.group(1)) >= 2
    assert int(m.group(2)) == want.get("gomabarn_shadow_matched_total" + pair, 0)
    assert int(m.group(3)) == want.get("gomabarn_shadow_mismatched_total" + pair, 0)
    screenshot(tmp, "http://127.0.0.1:%d/compare/pair?primary=hardlinking&shadow=fuse" % port,
               SCREENSHOT.replace("status", "compare"), 900)
