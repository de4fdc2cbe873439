"""The rules checker itself must be able to fail: broken messages are
reported, good ones pass (the other tests rely on it)."""
import hashlib

import pytest

import goma_rules as rules


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


def req_for(gg, inputs=(), outputs=(), dirs=()):
    req = gg.ExecReq(expected_output_files=outputs, expected_output_dirs=dirs)
    req.command_spec.name = "gcc"
    for name in inputs:
        req.input.add(filename=name, hash_key="00" * 32)
    return req


def done(gg, *outputs, exit_status=0):
    """A finished compile with one small FILE per output name."""
    resp = gg.ExecResp()
    resp.result.exit_status = exit_status
    for name in outputs:
        resp.result.output.add(filename=name, blob=gg.FileBlob(blob_type=1, content=b"o", file_size=1))
    return resp


def test_good_exec_resps_pass(gg):
    req = req_for(gg, inputs=["a.c", "a.h"], outputs=["a.o"], dirs=["gen"])
    assert rules.exec_resp_problems(done(gg, "a.o", "gen/x/y.txt"), req) == []
    assert rules.exec_resp_problems(done(gg, exit_status=1), req) == []  # a compile error
    assert rules.exec_resp_problems(gg.ExecResp(missing_input=["a.h"], missing_reason=["?"]), req) == []
    assert rules.exec_resp_problems(gg.ExecResp(error=-1, error_message=["no"]), req) == []
    assert rules.exec_resp_problems(gg.ExecResp(error_message=["retry me"]), req) == []


def broken_exec_resps(gg):
    """(what is wrong, the ExecResp, what the checker must say)."""
    no_status = gg.ExecResp()
    no_status.result.stdout_buffer = b""
    meta_one_key = done(gg)
    meta_one_key.result.output.add(filename="a.o", blob=gg.FileBlob(blob_type=2, file_size=3, hash_key=["k"]))
    no_blob = done(gg)
    no_blob.result.output.add(filename="a.o")
    nameless = done(gg)
    nameless.result.output.add(blob=gg.FileBlob(blob_type=1, content=b"", file_size=0))
    spec = done(gg, "a.o")
    spec.result.command_spec.name = "gcc"
    with_missing = done(gg, "a.o")
    with_missing.missing_input.append("a.h")
    with_missing.missing_reason.append("?")
    ok_and_error = done(gg, "a.o")
    ok_and_error.error_message.append("Buildbarn went away")
    return [
        ("exit 0, no outputs", done(gg), "none of the expected outputs"),
        ("exit_status absent", no_status, "exit_status (required)"),
        ("output blob invalid", meta_one_key, "at least 2"),
        ("output without blob", no_blob, "no blob"),
        ("output without name", nameless, "no filename"),
        ("output twice", done(gg, "a.o", "a.o"), "appears twice"),
        ("output not asked for", done(gg, "a.o", "b.o"), "not among the expected"),
        ("command_spec echoed", spec, "command_spec is set"),
        ("result and missing", with_missing, "at once"),
        ("exit 0 and an error", ok_and_error, "exit status 0 together with an error"),
        ("not parallel", gg.ExecResp(missing_input=["a.c", "a.h"], missing_reason=["gone"]), "parallel"),
        ("missing, renamed", gg.ExecResp(missing_input=["./a.c"], missing_reason=["?"]), "not a filename as sent"),
        ("missing twice", gg.ExecResp(missing_input=["a.c", "a.c"], missing_reason=["?", "?"]), "twice"),
        ("missing and BAD_REQUEST", gg.ExecResp(missing_input=["a.c"], missing_reason=["?"], error=-1,
                                                error_message=["x"]), "gives up"),
        ("silent BAD_REQUEST", gg.ExecResp(error=-1), "without an error_message"),
        ("unknown error code", gg.ExecResp(error=7, error_message=["x"]), "no ExecError"),
        ("unknown cache source", gg.ExecResp(missing_input=["a.c"], missing_reason=["?"], cache_hit=9), "no CacheSource"),
        ("empty answer", gg.ExecResp(), "nothing the client can act on"),
    ]


def test_broken_exec_resps_are_reported(gg):
    req = req_for(gg, inputs=["a.c", "a.h"], outputs=["a.o"])
    for what, resp, says in broken_exec_resps(gg):
        problems = rules.exec_resp_problems(resp, req)
        assert any(says in p for p in problems), (what, problems)


def test_chunk_layout(gg):
    meta = gg.FileBlob(blob_type=2, file_size=3, hash_key=["a", "b"])
    good = [gg.FileBlob(blob_type=3, offset=0, content=b"ab", file_size=2),
            gg.FileBlob(blob_type=3, offset=2, content=b"c", file_size=1)]
    assert rules.chunks_problems(meta, good) == []
    gap = [good[0], gg.FileBlob(blob_type=3, offset=3, content=b"c", file_size=1)]
    assert any("expected 2" in p for p in rules.chunks_problems(meta, gap))
    assert any("2 keys but 1 chunks" in p for p in rules.chunks_problems(meta, good[:1]))
    assert any("hold 2 bytes" in p for p in rules.chunks_problems(meta, good[:1]))
    odd_size = [good[0], gg.FileBlob(blob_type=3, offset=2, content=b"c", file_size=2)]
    assert any("neither its length" in p for p in rules.chunks_problems(meta, odd_size))
    whole_size = [gg.FileBlob(blob_type=3, offset=0, content=b"ab", file_size=3), good[1]]
    assert rules.chunks_problems(meta, whole_size) == []  # goma's server writes the whole size
    file_not_chunk = [good[0], gg.FileBlob(blob_type=1, content=b"c", file_size=1)]
    assert any("not FILE_CHUNK" in p for p in rules.chunks_problems(meta, file_not_chunk))


def test_lookup_and_store_answers(gg):
    found = gg.FileBlob(blob_type=1, content=b"x", file_size=1)
    placeholder = gg.FileBlob(blob_type=0)
    assert rules.lookup_problems(gg.LookupFileResp(blob=[found, placeholder]), ["k1", "k2"]) == []
    assert any("2 keys asked, 1 blobs" in p for p in rules.lookup_problems(gg.LookupFileResp(blob=[found]), ["k1", "k2"]))
    no_type = gg.FileBlob(content=b"x", file_size=1)
    assert any("blob_type (required)" in p for p in rules.lookup_problems(gg.LookupFileResp(blob=[no_type]), ["k"]))
    broken = gg.FileBlob(blob_type=1, content=b"xy", file_size=1)
    assert any("file_size says 1" in p for p in rules.lookup_problems(gg.LookupFileResp(blob=[broken]), ["k"]))

    req = gg.StoreFileReq(blob=[found, broken])
    good = gg.StoreFileResp(hash_key=[hashlib.sha256(found.SerializeToString()).hexdigest(), ""])
    assert rules.store_problems(good, req) == []
    assert any("2 blobs sent, 1 keys" in p for p in rules.store_problems(gg.StoreFileResp(hash_key=[""]), req))
    assert any("not the SHA-256" in p for p in rules.store_problems(gg.StoreFileResp(hash_key=["ab" * 32, ""]), req))
