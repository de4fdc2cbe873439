"""Shared fixtures: Python modules generated from OUR .proto files (and
from the test-only goma proto with real groups) by the reference protoc,
so Python's protobuf runtime is an encoder independent of protobuf-c, and
the path of the C probe under test."""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTO_DIR = os.path.join(REPO, "proto")
# Our copies of google/protobuf/* are not generated: the Python runtime
# already registers those well-known types under the same file names.
PROTOS = [
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
    "google/longrunning/operations.proto",
    "google/bytestream/bytestream.proto",
    "build/bazel/remote/execution/v2/remote_execution.proto",
]


@pytest.fixture(scope="session")
def pb(tmp_path_factory):
    out = tmp_path_factory.mktemp("pb2")
    subprocess.run(["protoc", "-I" + PROTO_DIR, "--python_out=" + str(out)] + PROTOS,
                   check=True, cwd=PROTO_DIR)
    sys.path.insert(0, str(out))
    from build.bazel.remote.execution.v2 import remote_execution_pb2
    from google.rpc import status_pb2, error_details_pb2

    class Modules:
        rex = remote_execution_pb2
        status = status_pb2
        details = error_details_pb2
    return Modules


@pytest.fixture(scope="session")
def gg(tmp_path_factory):
    """The goma messages as goma declares them, with real proto2 groups
    (goma_groups_test.proto): what a goma client sends and reads."""
    here = os.path.dirname(os.path.abspath(__file__))
    out = tmp_path_factory.mktemp("goma_groups_pb2")
    subprocess.run(["protoc", "-I" + here, "--python_out=" + str(out), "goma_groups_test.proto"], check=True)
    sys.path.insert(0, str(out))
    import goma_groups_test_pb2
    return goma_groups_test_pb2


@pytest.fixture(scope="session")
def probe():
    path = os.environ.get("GMB_PROBE")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("GMB_PROBE must name the built rev2_probe (ctest sets it)")
    return path
