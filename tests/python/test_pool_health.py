"""No compile waits on a pool that cannot run it (integration: needs the
local Buildbarn, whose scheduler keeps actions queued for 900 s when no
worker takes them, as Buildbarn's reference deployment does).

- The scheduler's BuildQueueState is watched: /metrics shows the workers
  of each pool.
- An instance name no worker serves is answered with Buildbarn's "no
  workers" once, then at once (the pool is known down).
- With every worker slot of `hardlinking` busy (four `sleep` actions), an
  action waits QUEUED past exec.max_queued_s: it is answered with a
  retryable error naming the cause, the pool is marked down, the next miss
  is answered at once, a cache hit is still served, and once the probe
  interval has passed a request tries a down pool again.
- Actions queued before the pool was marked down give up then, not each
  after its own exec.max_queued_s.
- An Execute stream that goes silent (the scheduler stopped) is asked
  again once, then given up in words (exec.max_silent_s).
- An action whose worker stops synchronizing with the scheduler (seen in
  its ListWorkers) is given up after 15 s and run on the fallback pool.
- Without that watch, an action Buildbarn fails because it dropped its
  worker is run once more on the same pool.
"""
import concurrent.futures
import gzip
import hashlib
import http.client
import os
import signal
import subprocess
import time

import pytest

import gmb_serve
from gmb_serve import metrics
import goma_rules

PREFIX = "/cxx-compiler-service"
PROBE_S = 4
BB = os.environ.get("GOMABARN_BB_DIR", "/tmp/gomabarn-bb")


def cluster_pid(name):
    """The pid (and process group) of a process of the shared cluster."""
    return int(open(os.path.join(BB, "pids", name + ".pid")).read())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from gmb_serve.serving(
        tmp_path_factory.mktemp("pools"),
        'buildbarn = { instance_name = "hardlinking"; scheduler_target = "127.0.0.1:8984"; };\n'
        'exec = { max_queued_s = 2; pool_probe_interval_s = %d; };' % PROBE_S, stop_timeout=20)

def shell_req(gg, script, tag):
    """An action running `sh -c script` that writes out.txt."""
    req = gg.ExecReq(cwd="/w", arg=["/bin/sh", "-c", script], expected_output_files=["out.txt"])
    req.command_spec.name = "sh"
    data = b"%s %d\n" % (tag.encode(), time.time_ns())
    b = gg.FileBlob(blob_type=1, content=data, file_size=len(data))
    req.input.add(filename="tag.txt", hash_key=hashlib.sha256(b.SerializeToString()).hexdigest()).content.CopyFrom(b)
    return req


def call(gg, port, req, instance="hardlinking"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t0 = time.time()
    c.request("POST", PREFIX + "/e", body=gzip.compress(req.SerializeToString()),
              headers={"Content-Encoding": "gzip", "X-Gomabarn-Instance": instance})
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200, body
    resp = gg.ExecResp.FromString(body)
    assert goma_rules.exec_resp_problems(resp, req) == []
    return resp, time.time() - t0


def test_scheduler_is_watched(server):
    port, _ = server
    deadline = time.time() + 15
    while time.time() < deadline:
        m = metrics(port)
        if m.get('gomabarn_pool_workers{instance="hardlinking"}', 0) >= 1 and \
                m.get('gomabarn_pool_workers{instance="fuse"}', 0) >= 1:
            return
        time.sleep(0.5)
    pytest.fail("the scheduler's workers never showed in /metrics: %s" % m)


def test_unserved_instance_is_answered_at_once_once_known_down(gg, server):
    port, _ = server
    first, _ = call(gg, port, shell_req(gg, "echo > out.txt", "nopool"), "no-such-pool")
    assert any("No workers exist" in m or "no worker" in m for m in first.error_message), first.error_message
    assert first.error != -1  # not BAD_REQUEST: the client's request was fine
    again, took = call(gg, port, shell_req(gg, "echo > out.txt", "nopool2"), "no-such-pool")
    assert any("is down" in m for m in again.error_message), again.error_message
    assert took < 1.0
    assert metrics(port)['gomabarn_pool_up{instance="no-such-pool"}'] == 0


def test_queue_timeout_marks_the_pool_down_and_a_probe_brings_it_back(gg, server):
    port, log = server
    # Fill every worker slot of the pool (concurrency 4) for 8 s. The
    # cluster is shared: an action left running by an earlier test can hold
    # a slot, and then a sleeper queues, times out and marks the pool down
    # first. That run proves nothing about the late action: run it again.
    for attempt in range(3):
        sleepers = [shell_req(gg, "sleep 8; echo slept > out.txt", "sleep%d-%d" % (attempt, i)) for i in range(4)]
        pool = concurrent.futures.ThreadPoolExecutor(5)
        busy = [pool.submit(call, gg, port, r) for r in sleepers]
        time.sleep(1.5)  # the sleepers have reached the workers
        waited, took = call(gg, port, shell_req(gg, "echo late > out.txt", "late%d" % attempt))
        if not any(f.done() and f.result()[0].error_message for f in busy):
            break
        print("attempt %d: a sleeper found no free slot (a leftover action held one); again" % attempt)
        pool.shutdown(wait=True)
        deadline = time.time() + 30
        while metrics(port)['gomabarn_pool_up{instance="hardlinking"}'] != 1 and time.time() < deadline:
            call(gg, port, shell_req(gg, "true > out.txt", "probe%d-%d" % (attempt, time.time_ns())))
            time.sleep(1)
    with pool:
        assert any("no worker of the pool took it" in m for m in waited.error_message), waited.error_message
        assert waited.error != -1
        assert 1.5 <= took < 6, took  # the 2 s budget, not Buildbarn's 900 s
        m = metrics(port)
        assert m["gomabarn_buildbarn_queue_timeouts_total"] >= 1
        assert m['gomabarn_pool_up{instance="hardlinking"}'] == 0

        # Down: the next miss is answered at once...
        refused, took = call(gg, port, shell_req(gg, "echo next > out.txt", "next"))
        assert any("is down" in m for m in refused.error_message), refused.error_message
        assert took < 1.0
        assert metrics(port)['gomabarn_pool_refused_total{instance="hardlinking"}'] >= 1
        for f in busy:
            resp, _ = f.result()
            assert resp.result.exit_status == 0, resp  # the sleepers themselves finished
    # The sleepers ran to the end: evidence of a working worker, the pool is up.
    assert metrics(port)['gomabarn_pool_up{instance="hardlinking"}'] == 1
    # A cache hit needs no worker at all.
    hit, _ = call(gg, port, sleepers[0])
    assert hit.cache_hit == 2 and hit.result.exit_status == 0, hit
    assert "pool \"hardlinking\" is down" in log.read_text()


@pytest.fixture(scope="module")
def queue4_server(tmp_path_factory):
    """exec.max_queued_s = 4: long enough against the quarter-second queue checks."""
    yield from gmb_serve.serving(
        tmp_path_factory.mktemp("queue4"),
        'buildbarn = { instance_name = "hardlinking"; };\nexec = { max_queued_s = 4; pool_probe_interval_s = 30; };',
        stop_timeout=20)


def test_actions_queued_on_a_pool_give_up_when_it_is_marked_down(gg, queue4_server):
    """A pool that loses its workers: once one queued action has timed out
    and marked it down, the others queued before give up within a second,
    not each after its own exec.max_queued_s (a build's queued compiles
    would otherwise fall back one by one)."""
    port, _ = queue4_server
    sleepers = [shell_req(gg, "sleep 12; echo slept > out.txt", "gsleep%d" % i) for i in range(4)]
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        busy = [pool.submit(call, gg, port, r) for r in sleepers]
        time.sleep(1.5)  # every slot taken
        first = pool.submit(call, gg, port, shell_req(gg, "echo a > out.txt", "queued-a"))
        time.sleep(2)
        second, took = call(gg, port, shell_req(gg, "echo b > out.txt", "queued-b"))
        a, took_a = first.result()
        assert any("no worker of the pool took it" in m for m in a.error_message), a.error_message
        assert any("marked down meanwhile" in m for m in second.error_message), second.error_message
        # a timed out after its 4 s about 2 s into b's wait; b gave up at
        # its next check, well before its own 4 s.
        assert took < 3.5, (took, took_a)
        # Their streams stayed open while they waited (the check asks the
        # pool's state, it does not end the call): no WaitExecution.
        assert metrics(port)["gomabarn_buildbarn_reattaches_total"] == 0
        for f in busy:
            f.result()


def test_a_down_pool_is_tried_again_after_the_probe_interval(gg, server):
    port, _ = server
    call(gg, port, shell_req(gg, "echo > out.txt", "probe0"), "no-pool-probe")  # Buildbarn: no workers
    refused, _ = call(gg, port, shell_req(gg, "echo > out.txt", "probe1"), "no-pool-probe")
    assert any("is down" in m for m in refused.error_message), refused.error_message
    time.sleep(PROBE_S + 0.5)
    tried, _ = call(gg, port, shell_req(gg, "echo > out.txt", "probe2"), "no-pool-probe")
    # This one went to Buildbarn again (its own answer, not "is down").
    assert not any("is down" in m for m in tried.error_message), tried.error_message
    assert any("No workers exist" in m or "no worker" in m for m in tried.error_message), tried.error_message


@pytest.fixture(scope="module")
def fallback_server(tmp_path_factory):
    """A gateway with exec.fallback_instance = "fuse"."""
    yield from gmb_serve.serving(
        tmp_path_factory.mktemp("fallback"),
        'exec = { max_queued_s = 2; fallback_instance = "fuse"; pool_probe_interval_s = 60; };', stop_timeout=20)


def test_a_dead_pool_falls_back_to_the_configured_one(gg, fallback_server):
    port, log = fallback_server
    # No worker serves the instance name: run on fuse instead, answered with its output.
    resp, _ = call(gg, port, shell_req(gg, "echo fell back > out.txt", "fb1"), "no-such-pool")
    assert not resp.error_message, resp.error_message
    assert resp.result.exit_status == 0 and resp.result.output[0].blob.content == b"fell back\n", resp
    assert 'running it on the fallback instance "fuse"' in log.read_text()
    # The pool is known down now: the next one goes to fuse at once, without a first try.
    resp, took = call(gg, port, shell_req(gg, "echo again > out.txt", "fb2"), "no-such-pool")
    assert resp.result.exit_status == 0 and resp.result.output[0].blob.content == b"again\n", resp
    m = metrics(port)
    assert m["gomabarn_exec_fallbacks_total"] == 2, m
    # The fallback pool itself is served as usual.
    resp, _ = call(gg, port, shell_req(gg, "echo x > out.txt", "fb3"), "fuse")
    assert resp.result.exit_status == 0


def test_an_action_whose_client_left_is_not_moved_to_the_fallback(gg, fallback_server):
    """gomabarn-cc races a compile locally and closes its connection when
    the local compile wins. If that action then times out in the queue of
    a pool that lost its workers, it is not run on the fallback pool for
    nobody (it would take the CPU and workers of compiles still waited
    for). Marks hardlinking down for this gateway: keep it last of those
    using fallback_server."""
    port, log = fallback_server
    before = metrics(port).get("gomabarn_exec_fallbacks_skipped_total", 0)
    tag = time.time_ns()
    sleepers = [shell_req(gg, "sleep 6; echo slept > out.txt", "lsleep%d-%d" % (i, tag)) for i in range(4)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        busy = [pool.submit(call, gg, port, r, "hardlinking") for r in sleepers]
        time.sleep(1.5)  # every slot of hardlinking taken
        req = shell_req(gg, "echo left > out.txt", "left%d" % tag)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("POST", PREFIX + "/e", body=gzip.compress(req.SerializeToString()),
                  headers={"Content-Encoding": "gzip", "X-Gomabarn-Instance": "hardlinking"})
        time.sleep(0.5)  # queued behind the sleepers
        c.close()  # the client is gone; its action still waits in the queue
        deadline = time.time() + 10  # its 2 s queue budget, checked every quarter second
        while time.time() < deadline and metrics(port).get("gomabarn_exec_fallbacks_skipped_total", 0) == before:
            time.sleep(0.2)
        assert metrics(port).get("gomabarn_exec_fallbacks_skipped_total", 0) == before + 1, log.read_text()[-3000:]
        assert "not moved to the fallback instance: its client closed the connection" in log.read_text()
        for f in busy:  # the sleepers' clients stayed: they ran, on hardlinking or (a slot was taken) on fuse
            assert f.result()[0].result.exit_status == 0


def running_on_a_worker(pool, gg, port, script):
    """An action of 4 s then `script` sent on `pool`; returns its future
    once a worker of hardlinking runs it."""
    running = pool.submit(call, gg, port, shell_req(gg, "sleep 4; " + script, "w%d" % time.time_ns()))
    time.sleep(2)
    return running


@pytest.fixture(scope="module")
def lost_server(tmp_path_factory):
    """The scheduler watched, a fallback pool, and neither a queue nor a
    silence limit that could end the wait first."""
    yield from gmb_serve.serving(
        tmp_path_factory.mktemp("lost"),
        'buildbarn = { instance_name = "hardlinking"; scheduler_target = "127.0.0.1:8984"; };\n'
        'exec = { max_queued_s = 0; max_silent_s = 0; fallback_instance = "fuse"; };', stop_timeout=20)


def test_an_action_whose_worker_stops_is_run_on_the_fallback_pool(gg, lost_server):
    """The hardlinking worker stopped (SIGSTOP) while it runs an action: it
    no longer synchronizes with the scheduler, which would notice only when
    it drops the worker a minute later. The scheduler's ListWorkers shows
    the worker's timeout standing still; after 15 s of that the action is
    given up and run on the fallback pool, which answers the client."""
    port, log = lost_server
    worker = cluster_pid("worker-hardlinking")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = running_on_a_worker(pool, gg, port, "echo done > out.txt")
        os.killpg(worker, signal.SIGSTOP)
        try:
            resp, took = running.result(timeout=90)
            silent = metrics(port).get('gomabarn_pool_silent_workers{instance="hardlinking"}')
        finally:
            os.killpg(worker, signal.SIGCONT)
    assert silent is not None and silent >= 1, silent  # the stopped thread that ran it, at least
    assert resp.result.exit_status == 0 and resp.result.output[0].blob.content == b"done\n", resp
    text = log.read_text()
    assert "has not synchronized with the scheduler for" in text, text[-3000:]
    assert 'running it on the fallback instance "fuse"' in text
    # 15 s of silence, the watch's 5 s polls, the 4 s action again on fuse: not Buildbarn's minute.
    assert 17 <= took < 45, took
    print("answered after %.1f s" % took)
    m = metrics(port)
    assert m["gomabarn_buildbarn_workers_lost_total"] == 1, m
    assert m["gomabarn_exec_fallbacks_total"] == 1, m
    # The worker runs again: so does the pool. (Its idle threads, stopped
    # too, may have been seen silent meanwhile once the scheduler ended
    # their Synchronize calls, and the pool marked down: then the watch
    # brings it back once they talk again.)
    key = 'gomabarn_pool_up{instance="hardlinking"}'
    deadline = time.time() + 20
    while metrics(port).get(key, 1) == 0 and time.time() < deadline:
        time.sleep(0.5)
    assert metrics(port).get(key, 1) == 1, "the pool was not up again 20 s after its worker went on"
    ok, _ = call(gg, port, shell_req(gg, "echo back > out.txt", "after-stop%d" % time.time_ns()))
    assert ok.result.exit_status == 0, ok
    assert metrics(port)["gomabarn_exec_fallbacks_total"] == 1  # it ran on hardlinking itself


@pytest.fixture(scope="module")
def unwatched_server(tmp_path_factory):
    """No scheduler watch and no fallback pool (the defaults), no queue or
    silence limit: only Buildbarn itself ends a wait on a dead worker."""
    yield from gmb_serve.serving(
        tmp_path_factory.mktemp("unwatched"),
        'buildbarn = { instance_name = "hardlinking"; };\nexec = { max_queued_s = 0; max_silent_s = 0; };',
        stop_timeout=20)


def test_an_action_buildbarn_says_lost_its_worker_is_tried_again(gg, unwatched_server):
    """Without the watch, Buildbarn drops a killed worker after a minute and
    fails its action ("Worker ... disappeared while task was executing").
    The gateway runs it once more on the same pool; the worker is started
    again meanwhile (as systemd would), takes it, and the client gets its
    result. (Killed, not stopped: a stopped worker that goes on would run
    the retry beside its old run of the same action, in the same build
    directory, and Buildbarn refuses that.)"""
    port, log = unwatched_server
    restart = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "buildbarn", "restart.sh")
    worker = cluster_pid("worker-hardlinking")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = running_on_a_worker(pool, gg, port, "echo again > out.txt")
        os.killpg(worker, signal.SIGKILL)
        try:
            deadline = time.time() + 90  # Buildbarn's minute, and some
            while "trying it once more on the same pool" not in log.read_text() and time.time() < deadline:
                time.sleep(0.5)
        finally:
            subprocess.run(["bash", restart, "worker-hardlinking"], check=True, timeout=120,
                           stdout=subprocess.DEVNULL)
        resp, took = running.result(timeout=60)
    text = log.read_text()
    assert "disappeared while executing it; trying it once more on the same pool" in text, text[-3000:]
    assert resp.result.exit_status == 0 and resp.result.output[0].blob.content == b"again\n", resp
    assert metrics(port)["gomabarn_exec_tried_again_total"] == 1
    print("answered after %.1f s" % took)


@pytest.fixture(scope="module")
def silent_server(tmp_path_factory):
    """exec.max_silent_s = 2 and no queue limit: only the silence watch ends a wait."""
    yield from gmb_serve.serving(
        tmp_path_factory.mktemp("silent"),
        'buildbarn = { instance_name = "hardlinking"; };\nexec = { max_queued_s = 0; max_silent_s = 2; };',
        stop_timeout=20)


def test_a_silent_execute_stream_is_given_up(gg, silent_server):
    """Buildbarn's scheduler stopped (SIGSTOP: its connections stay open and
    say nothing): the Execute stream is asked again once, then the client
    gets a retryable error in words after about twice exec.max_silent_s,
    not after buildbarn.execute_timeout_ms."""
    port, log = silent_server
    scheduler = cluster_pid("scheduler")
    os.kill(scheduler, signal.SIGSTOP)
    try:
        resp, took = call(gg, port, shell_req(gg, "echo quiet > out.txt", "silent"))
    finally:
        os.kill(scheduler, signal.SIGCONT)
    assert any("went silent" in m for m in resp.error_message), resp.error_message
    assert resp.error != -1  # retryable, not the client's fault
    assert 3.5 <= took < 10, took
    assert "no word from Buildbarn" in log.read_text()
    # The scheduler is back: the same pool runs actions again.
    ok, _ = call(gg, port, shell_req(gg, "echo back > out.txt", "after-silence"))
    assert ok.result.exit_status == 0, ok
