"""Starting `gomabarn serve` for a test: one place for the configuration's
common part (the workers' container image from the example configuration,
a free port, a fresh cache directory) and the wait for "listening on"."""
import http.client
import os
import re
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def container_image():
    text = open(os.path.join(REPO, "config/gomabarn.conf.example")).read()
    return re.search(r'container_image = "(.*)";', text).group(1)


def start(tmp, extra="", http="", cache="", wait_s=15):
    """Starts a gateway in directory tmp with `extra` configuration lines
    (other groups) and more settings inside the http and cache groups;
    returns (process, port, log path). Fails the test if it does not start."""
    gomabarn = os.environ.get("GMB_GOMABARN")
    if not gomabarn:
        raise AssertionError("GMB_GOMABARN must name the built gomabarn (ctest sets it)")
    conf = tmp / "gomabarn.conf"
    conf.write_text('http = { port = 0; %s };\ncache = { dir = "%s"; %s };\nplatform = { container_image = "%s"; };\n%s\n'
                    % (http, tmp / "cache", cache, container_image(), extra))
    log_path = tmp / "serve.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([gomabarn, "serve", "--config", str(conf)], stderr=log)
    log.close()
    deadline = time.time() + wait_s
    while time.time() < deadline:
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", log_path.read_text())
        if m:
            return proc, int(m.group(1)), log_path
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("gomabarn serve did not start: " + log_path.read_text()[-2000:])


def stop(proc, timeout=30):
    """SIGTERM, then the exit status must be 0."""
    proc.terminate()
    assert proc.wait(timeout=timeout) == 0


def serving(tmp, extra="", stop_timeout=30, **settings):
    """start() for a pytest fixture: yields (port, log path), stops the
    gateway afterwards (exit status 0). Use: `yield from serving(...)`."""
    proc, port, log = start(tmp, extra, **settings)
    yield port, log
    stop(proc, timeout=stop_timeout)


def get(port, path, timeout=60):
    """GET path from the gateway: (HTTP status, body text)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, body


def metrics(port):
    """The gateway's /metrics as {series: value}."""
    out = {}
    for line in get(port, "/metrics", timeout=30)[1].splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out
