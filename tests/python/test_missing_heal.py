"""Exec heals blobs Buildbarn loses between the upload and the worker's
input fetch (an eviction race on a busy CAS): the Execute answer's
FAILED_PRECONDITION names them as MISSING, gomabarn uploads them again from
what it holds and executes once more; a MISSING blob that is none of the
action's own gives a retryable error, not a hang or a BAD_REQUEST.

FAKE SERVER, on purpose: the real Buildbarn of tests/buildbarn cannot be
made to drop a blob between FindMissingBlobs and Execute on demand, so this
error path runs against a small in-process REv2 server (Python grpcio)
that keeps a CAS in a dict and drops one input blob on the first Execute.
Everything else about Exec is tested against the real Buildbarn."""
import gzip
import hashlib
import http.client
import re
import threading
from concurrent import futures

import pytest

import gmb_serve
import goma_rules

grpc = pytest.importorskip("grpc")

PREFIX = "/cxx-compiler-service"
REX = "build.bazel.remote.execution.v2"
OBJECT = b"\x7fELF pretend object from the fake worker"


class FakeBuildbarn:
    """Just enough of REv2 for one Exec: CAS in a dict, an empty action
    cache, and an Execute that loses a blob the first time (when asked)."""

    def __init__(self, pb, lose):
        self.pb, self.lose = pb, lose  # lose: "input" or "foreign"
        self.cas, self.executes, self.lost = {}, 0, None
        self.lock = threading.Lock()

    def key(self, d):
        return (d.hash, d.size_bytes)

    def find_missing(self, req, ctx):
        with self.lock:
            missing = [d for d in req.blob_digests if self.key(d) not in self.cas]
        return self.pb.rex.FindMissingBlobsResponse(missing_blob_digests=missing)

    def batch_update(self, req, ctx):
        resp = self.pb.rex.BatchUpdateBlobsResponse()
        with self.lock:
            for r in req.requests:
                assert hashlib.sha256(r.data).hexdigest() == r.digest.hash
                self.cas[self.key(r.digest)] = r.data
                resp.responses.add(digest=r.digest)
        return resp

    def batch_read(self, req, ctx):
        resp = self.pb.rex.BatchReadBlobsResponse()
        with self.lock:
            for d in req.digests:
                r = resp.responses.add(digest=d)
                if self.key(d) in self.cas:
                    r.data = self.cas[self.key(d)]
                else:
                    r.status.code = 5
        return resp

    def get_action_result(self, req, ctx):
        ctx.abort(grpc.StatusCode.NOT_FOUND, "no cached result")

    def capabilities(self, req, ctx):
        caps = self.pb.rex.ServerCapabilities()
        caps.cache_capabilities.digest_functions.append(1)
        caps.execution_capabilities.exec_enabled = True
        return caps

    def first_file(self, action):
        """The digest of the first file in the action's input tree."""
        rex = self.pb.rex
        todo = [rex.Action.FromString(self.cas[self.key(action)]).input_root_digest]
        while todo:
            d = rex.Directory.FromString(self.cas[self.key(todo.pop(0))])
            if d.files:
                return d.files[0].digest
            todo += [n.digest for n in d.directories]
        raise AssertionError("no file in the input tree")

    def execute(self, req, ctx):
        rex, pb = self.pb.rex, self.pb
        with self.lock:
            self.executes += 1
            first = self.executes == 1
            if first:
                if self.lose == "input":
                    lost = self.first_file(req.action_digest)
                    del self.cas[self.key(lost)]
                else:
                    lost = rex.Digest(hash="ab" * 32, size_bytes=7)
                self.lost = lost
        op = pb.ops.Operation(name="operations/fake-%d" % self.executes, done=True)
        er = rex.ExecuteResponse()
        if first:
            pf = pb.details.PreconditionFailure()
            pf.violations.add(type="MISSING", subject="blobs/%s/%d" % (lost.hash, lost.size_bytes))
            er.status.code = 9  # FAILED_PRECONDITION
            er.status.message = "input fetch: blob not found"
            er.status.details.add().Pack(pf)
        else:
            with self.lock:
                assert self.key(self.lost) in self.cas, "the lost blob was not uploaded again"
                out = rex.Digest(hash=hashlib.sha256(OBJECT).hexdigest(), size_bytes=len(OBJECT))
                self.cas[self.key(out)] = OBJECT
                command = rex.Command.FromString(self.cas[self.key(
                    rex.Action.FromString(self.cas[self.key(req.action_digest)]).command_digest)])
            er.result.exit_code = 0
            er.result.output_files.add(path=command.output_paths[0], digest=out)
        op.response.Pack(er)
        yield op


def serve_fake(pb, fake):
    rex = pb.rex

    def unary(fn, req_cls, resp_cls):
        return grpc.unary_unary_rpc_method_handler(fn, request_deserializer=req_cls.FromString,
                                                   response_serializer=resp_cls.SerializeToString)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers([
        grpc.method_handlers_generic_handler(REX + ".ContentAddressableStorage", {
            "FindMissingBlobs": unary(fake.find_missing, rex.FindMissingBlobsRequest, rex.FindMissingBlobsResponse),
            "BatchUpdateBlobs": unary(fake.batch_update, rex.BatchUpdateBlobsRequest, rex.BatchUpdateBlobsResponse),
            "BatchReadBlobs": unary(fake.batch_read, rex.BatchReadBlobsRequest, rex.BatchReadBlobsResponse)}),
        grpc.method_handlers_generic_handler(REX + ".ActionCache", {
            "GetActionResult": unary(fake.get_action_result, rex.GetActionResultRequest, rex.ActionResult)}),
        grpc.method_handlers_generic_handler(REX + ".Capabilities", {
            "GetCapabilities": unary(fake.capabilities, rex.GetCapabilitiesRequest, rex.ServerCapabilities)}),
        grpc.method_handlers_generic_handler(REX + ".Execution", {
            "Execute": grpc.unary_stream_rpc_method_handler(
                fake.execute, request_deserializer=rex.ExecuteRequest.FromString,
                response_serializer=pb.ops.Operation.SerializeToString)}),
    ])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


@pytest.fixture
def pbx(pb):
    from google.longrunning import operations_pb2
    pb.ops = operations_pb2
    return pb


def start_gateway(tmp_path, bb_port):
    proc, port, _ = gmb_serve.start(
        tmp_path, 'buildbarn = { target = "127.0.0.1:%d"; instance_name = "fake"; };' % bb_port)
    return proc, port

def exec_once(gg, port):
    src = b"int healed(void) { return 1; }\n"
    blob = gg.FileBlob(blob_type=1, content=src, file_size=len(src))
    req = gg.ExecReq(cwd="/w/src", arg=["gcc", "-c", "a.c", "-o", "a.o"], expected_output_files=["a.o"])
    req.command_spec.name = "gcc"
    req.input.add(filename="a.c", hash_key=hashlib.sha256(blob.SerializeToString()).hexdigest()).content.CopyFrom(blob)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", PREFIX + "/e", body=gzip.compress(req.SerializeToString()), headers={"Content-Encoding": "gzip"})
    r = c.getresponse()
    body = r.read()
    c.request("GET", "/metrics")
    metrics = c.getresponse().read().decode()
    c.close()
    assert r.status == 200, body
    resp = gg.ExecResp.FromString(body)
    assert goma_rules.exec_resp_problems(resp, req) == []
    return resp, metrics


def metric(text, series):
    m = re.search(r"^%s (\d+)" % re.escape(series), text, re.M)
    return int(m.group(1)) if m else 0


def test_a_lost_input_is_uploaded_again_and_the_exec_succeeds(gg, pbx, tmp_path):
    fake = FakeBuildbarn(pbx, lose="input")
    server, bb_port = serve_fake(pbx, fake)
    proc, port = start_gateway(tmp_path, bb_port)
    try:
        resp, metrics = exec_once(gg, port)
        assert not resp.error_message, resp
        assert resp.result.exit_status == 0
        assert [o.filename for o in resp.result.output] == ["a.o"]
        assert resp.result.output[0].blob.content == OBJECT
        assert fake.executes == 2
        assert metric(metrics, "gomabarn_exec_missing_blobs_healed_total") == 1
    finally:
        gmb_serve.stop(proc, timeout=20)
        server.stop(0)


def test_a_missing_blob_that_is_not_ours_is_a_retryable_error(gg, pbx, tmp_path):
    fake = FakeBuildbarn(pbx, lose="foreign")
    server, bb_port = serve_fake(pbx, fake)
    proc, port = start_gateway(tmp_path, bb_port)
    try:
        resp, metrics = exec_once(gg, port)
        assert not resp.HasField("result")
        assert resp.error != -1  # not BAD_REQUEST: the client retries
        text = " ".join(resp.error_message)
        assert 'Buildbarn (instance "fake")' in text and "blob not found" in text, text
        assert fake.executes == 1
        assert metric(metrics, "gomabarn_exec_missing_blobs_healed_total") == 0
    finally:
        gmb_serve.stop(proc, timeout=20)
        server.stop(0)
