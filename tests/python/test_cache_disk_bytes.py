"""The content store's two sizes, against the real Buildbarn (integration):
many small blobs take a whole disk block each, so /metrics reports
gomabarn_cache_disk_bytes (what cache.max_bytes bounds) beside the content
bytes of gomabarn_cache_bytes, and statfs on the FUSE view (df) reports
the disk figure as used, with cache.max_bytes as the size."""
import gzip
import http.client
import os
import re
import subprocess
import time

import gmb_serve
import goma_rules

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PREFIX = "/cxx-compiler-service"
MAX_BYTES = 64 << 20


def start(tmp):
    proc, port, log_path = gmb_serve.start(
        tmp, 'mount = { enabled = true; path = "%s"; };\nbuildbarn = { instance_name = "hardlinking"; };' % (tmp / "mnt"),
        cache="max_bytes = %d;" % MAX_BYTES, wait_s=10)
    return proc, open(log_path), port, log_path


def post(port, path, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", PREFIX + path, body=gzip.compress(body), headers={"Content-Encoding": "gzip"})
    r = c.getresponse()
    data = r.read()
    c.close()
    assert r.status == 200, data
    return data


def gauges(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(gomabarn_cache_\w+) (\S+)$", text, re.M)}


def test_disk_bytes_in_metrics_and_statfs(gg, tmp_path):
    proc, log, port, log_path = start(tmp_path)
    try:
        salt = b"%d" % time.time_ns()
        for batch in range(4):
            blobs = []
            for i in range(50):
                data = (b"small file %s %d %d\n" % (salt, batch, i)).ljust(100, b"x")
                blobs.append(gg.FileBlob(blob_type=1, content=data, file_size=len(data)))
            req = gg.StoreFileReq(blob=blobs)
            resp = gg.StoreFileResp.FromString(post(port, "/s", req.SerializeToString()))
            assert goma_rules.store_problems(resp, req) == []
        g = gauges(port)
        assert "gomabarn_cache_disk_bytes" in g, g
        blobs, content, disk = g["gomabarn_cache_blobs"], g["gomabarn_cache_bytes"], g["gomabarn_cache_disk_bytes"]
        assert blobs >= 200
        # Every blob here is far smaller than a block: each takes one.
        block = os.statvfs(tmp_path / "cache").f_frsize
        assert disk == blobs * block, (disk, blobs, block)
        assert content < disk / 10, (content, disk)
        assert disk <= MAX_BYTES
        # The view's statfs: size cache.max_bytes, used the disk bytes.
        sv = os.statvfs(tmp_path / "mnt")
        assert sv.f_frsize * sv.f_blocks == MAX_BYTES
        assert sv.f_frsize * (sv.f_blocks - sv.f_bfree) == disk, (sv, disk)
        assert sv.f_bavail == sv.f_bfree
    finally:
        proc.terminate()
        rc = proc.wait(timeout=30)
        log.close()
    assert rc == 0, log_path.read_text()[-3000:]
