"""The rules checker itself must be able to fail: broken messages are
reported, good ones pass (the other tests rely on it)."""
import os
import subprocess
import sys

import pytest

import goma_rules as rules

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def gg(tmp_path_factory):
    out = tmp_path_factory.mktemp("goma_rules_pb2")
    subprocess.run(["protoc", "-I" + HERE, "--python_out=" + str(out), "goma_groups_test.proto"], check=True)
    sys.path.insert(0, str(out))
    import goma_groups_test_pb2
    return goma_groups_test_pb2


def test_good_blobs_pass(gg):
    assert rules.blob_problems(gg.FileBlob(blob_type=1, content=b"", file_size=0)) == []
    assert rules.blob_problems(gg.FileBlob(blob_type=3, offset=0, content=b"x", file_size=1)) == []
    assert rules.blob_problems(gg.FileBlob(blob_type=2, file_size=5, hash_key=["a", "b"])) == []
    assert rules.blob_problems(gg.FileBlob(blob_type=5, file_size=5, hash_key=["a"])) == []


@pytest.mark.parametrize("blob,says", [
    (dict(content=b"x", file_size=1), "blob_type"),
    (dict(blob_type=0, file_size=0), "not a valid blob"),
    (dict(blob_type=1, file_size=0), "without content"),
    (dict(blob_type=1, content=b"abc", file_size=4), "file_size says 4"),
    (dict(blob_type=1, content=b"a", file_size=1, offset=0), "neither offset"),
    (dict(blob_type=2, file_size=9, hash_key=["a"]), "at least 2"),
    (dict(blob_type=2, file_size=9, hash_key=["a", "b"], content=b""), "neither offset nor content"),
    (dict(blob_type=3, content=b"x", file_size=1), "offset and content"),
    (dict(blob_type=3, offset=0, content=b"x"), "file_size must be present"),
    (dict(blob_type=5, file_size=1, hash_key=[]), "exactly 1"),
])
def test_broken_blobs_are_reported(gg, blob, says):
    problems = rules.blob_problems(gg.FileBlob(**blob))
    assert any(says in p for p in problems), problems


def test_exec_resp_rules(gg):
    ok = gg.ExecResp()
    ok.result.exit_status = 0
    ok.result.output.add(filename="a.o", blob=gg.FileBlob(blob_type=1, content=b"o", file_size=1))
    assert rules.exec_resp_problems(ok, ["a.o"]) == []

    no_outputs = gg.ExecResp()
    no_outputs.result.exit_status = 0
    assert any("none of the expected outputs" in p for p in rules.exec_resp_problems(no_outputs, ["a.o"]))

    no_status = gg.ExecResp()
    no_status.result.stdout_buffer = b""
    assert any("exit_status" in p for p in rules.exec_resp_problems(no_status))

    not_parallel = gg.ExecResp(missing_input=["a.c", "b.h"], missing_reason=["gone"])
    assert any("parallel" in p for p in rules.exec_resp_problems(not_parallel))

    empty = gg.ExecResp()
    assert any("nothing the client can act on" in p for p in rules.exec_resp_problems(empty))

    bad_output = gg.ExecResp()
    bad_output.result.exit_status = 0
    bad_output.result.output.add(filename="a.o", blob=gg.FileBlob(blob_type=2, file_size=3, hash_key=["k"]))
    assert any("at least 2" in p for p in rules.exec_resp_problems(bad_output, ["a.o"]))


def test_chunk_layout(gg):
    meta = gg.FileBlob(blob_type=2, file_size=3, hash_key=["a", "b"])
    good = [gg.FileBlob(blob_type=3, offset=0, content=b"ab", file_size=2),
            gg.FileBlob(blob_type=3, offset=2, content=b"c", file_size=1)]
    assert rules.chunks_problems(meta, good) == []
    gap = [good[0], gg.FileBlob(blob_type=3, offset=3, content=b"c", file_size=1)]
    assert any("expected 2" in p for p in rules.chunks_problems(meta, gap))
    assert any("hold 2 bytes" in p for p in rules.chunks_problems(meta, good[:1]))
