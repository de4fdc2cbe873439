"""goma's ExecReq.Input and ExecResult.Output are proto2 groups. gomabarn
decodes them through goma_wire (groups <-> length-delimited) and protobuf-c.
Python's protobuf, compiled from a .proto with real groups, is the
independent encoder: its bytes are what a goma client sends, and it must
read back exactly what gomabarn sends."""
import hashlib
import os
import subprocess

import pytest


@pytest.fixture(scope="module")
def goma_probe():
    path = os.environ.get("GMB_GOMA_PROBE")
    if not path:
        pytest.fail("GMB_GOMA_PROBE must name the built goma_probe (ctest sets it)")
    return path


def run(probe, kind, data):
    r = subprocess.run([probe, kind], input=data, capture_output=True)
    lines = r.stdout.decode().splitlines()
    return r.returncode, lines


def key(blob):
    return hashlib.sha256(blob.SerializeToString()).hexdigest()


def sample_req(gg):
    req = gg.ExecReq(cwd="/this/path/is/set/by/goma")
    req.command_spec.name = "gcc"
    req.command_spec.version = "12.2.0[Debian 12.2.0-14]"
    req.command_spec.target = "x86_64-linux-gnu"
    req.arg.extend(["gcc", "-c", "hello.c", "-o", "hello.o"])
    source = b"int main(void){return 0;}\n"
    small = gg.FileBlob(blob_type=1, content=source, file_size=len(source))
    empty = gg.FileBlob(blob_type=1, content=b"", file_size=0)
    i1 = req.input.add(filename="hello.c", hash_key=key(small))
    i1.content.CopyFrom(small)
    i2 = req.input.add(filename="empty.h", hash_key=key(empty))
    i2.content.CopyFrom(empty)
    req.input.add(filename="/usr/include/stdio.h", hash_key="ab" * 32)
    req.expected_output_files.append("hello.o")
    req.cache_policy = 1
    return req


def test_exec_req_groups_decode_and_round_trip(gg, goma_probe):
    req = sample_req(gg)
    wire = req.SerializeToString()
    assert b"\x53" in wire and b"\x54" in wire  # really groups
    rc, lines = run(goma_probe, "exec-req", wire)
    assert rc == 0, lines
    inputs = [l.split(" ") for l in lines if l.startswith("input ")]
    assert inputs == [
        ["input", "hello.c", req.input[0].hash_key, "FILE", str(len(req.input[0].content.content))],
        ["input", "empty.h", req.input[1].hash_key, "FILE", "0"],
        ["input", "/usr/include/stdio.h", "ab" * 32, "-"],
    ]
    assert [l[4:] for l in lines if l.startswith("arg ")] == list(req.arg)
    ours = bytes.fromhex([l for l in lines if l.startswith("wire ")][0][5:])
    # Byte for byte what the goma client itself sent (canonical order),
    # and Python reads it back as the same message.
    assert ours == wire
    assert gg.ExecReq.FromString(ours) == req


def test_exec_resp_outputs_as_groups(gg, goma_probe):
    resp = gg.ExecResp(cache_hit=2)
    resp.result.exit_status = 0
    resp.result.stdout_buffer = b"warning: something\n"
    obj = gg.FileBlob(blob_type=1, content=b"\x7fELF" + bytes(range(200)), file_size=204)
    o1 = resp.result.output.add(filename="hello.o", is_executable=False)
    o1.blob.CopyFrom(obj)
    big = gg.FileBlob(blob_type=2, file_size=5 << 20, hash_key=["11" * 32, "22" * 32, "33" * 32])
    o2 = resp.result.output.add(filename="out/tool", is_executable=True)
    o2.blob.CopyFrom(big)
    wire = resp.SerializeToString()
    rc, lines = run(goma_probe, "exec-resp", wire)
    assert rc == 0, lines
    assert "exit 0" in lines
    assert "output hello.o FILE 204 0" in lines
    assert "output out/tool FILE_META 0 1" in lines
    ours = bytes.fromhex([l for l in lines if l.startswith("wire ")][0][5:])
    assert ours == wire
    back = gg.ExecResp.FromString(ours)
    assert back == resp
    assert back.result.output[1].blob.hash_key == big.hash_key


def test_missing_input_response(gg, goma_probe):
    resp = gg.ExecResp(missing_input=["a.h", "../b/c.h"], missing_reason=["not in store", "not in store"])
    rc, lines = run(goma_probe, "exec-resp", resp.SerializeToString())
    assert rc == 0
    assert [l for l in lines if l.startswith("missing ")] == ["missing a.h", "missing ../b/c.h"]


@pytest.mark.parametrize("cut", [1, 5, 17, -1, -3])
def test_truncated_exec_req_is_refused(gg, goma_probe, cut):
    wire = sample_req(gg).SerializeToString()
    rc, lines = run(goma_probe, "exec-req", wire[:cut])
    assert rc == 1
    assert lines and lines[0].startswith("error "), lines


def test_unbalanced_groups_are_refused(goma_probe):
    # field 10 start group, a string field 11, then the end tag of field 11
    bad = b"\x53" + b"\x5a\x01x" + b"\x5c"
    rc, lines = run(goma_probe, "exec-req", bad)
    assert rc == 1 and "another field's end tag" in lines[0]
    rc, lines = run(goma_probe, "exec-req", b"\x54")
    assert rc == 1 and "never started" in lines[0]
    # 40 nested groups
    deep = b"".join(bytes([0x53]) for _ in range(40))
    rc, lines = run(goma_probe, "exec-req", deep)
    assert rc == 1
