"""The view while an action runs (integration: needs the local Buildbarn).
requests/<goma request id> appears as soon as the gateway has staged the
action, before it runs: its inputs can be read while the worker is busy,
and output/ appears once it is done (the action directory is listed again
instead of being frozen without a result)."""
import os
import threading
import time

from test_goma_exec import call, exec_req, server  # noqa: F401 (server is a fixture)
import test_goma_exec


def wait_for(predicate, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_running_action_is_browsable_and_gains_its_outputs(gg, server, tmp_path):
    salt = b"salt %d\n" % time.time_ns()
    req = exec_req(gg, str(tmp_path), {"salt.txt": salt},
                   ["sh", "-c", "sleep 3; cat salt.txt > slow.txt"], ["slow.txt"])
    request_id = "live-test/%d" % time.time_ns()
    req.requester_info.compiler_proxy_id = request_id
    answers = []
    worker = threading.Thread(target=lambda: answers.append(call(gg, server, req, "hardlinking")))
    worker.start()

    link = os.path.join(test_goma_exec.MOUNT, "requests", request_id.replace("/", "_"))
    assert wait_for(lambda: os.path.islink(link), 10), "requests/ never showed the request"
    assert os.readlink(link).startswith("../by-instance/hardlinking/")
    # Still running: the inputs are there, the outputs not yet.
    names = os.listdir(link)
    assert {"action.json", "command.json", "input"} <= set(names)
    assert "output" not in names and worker.is_alive()
    assert open(os.path.join(link, "input", "salt.txt"), "rb").read() == salt
    assert not os.path.exists(os.path.join(link, "output"))

    worker.join(60)
    resp = answers[0]
    assert resp.result.exit_status == 0, resp
    assert resp.result.output[0].blob.content == salt
    # Done: the same directory now shows the result, at once.
    assert "output" in os.listdir(link) and "result.json" in os.listdir(link)
    assert open(os.path.join(link, "output", "slow.txt"), "rb").read() == salt
    assert '"path": "slow.txt"' in open(os.path.join(link, "result.json")).read()
    assert "exit code   0" in open(os.path.join(link, "timings.txt")).read()
