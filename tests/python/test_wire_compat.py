"""gomabarn's protobuf-c encodings must be byte-identical to the reference
implementation's, because REv2 names every Action, Command and Directory
by the SHA-256 of its bytes: one byte off and Buildbarn caches nothing and
finds no inputs."""
import hashlib
import os
import stat
import subprocess


def run_probe(probe, *args, stdin=None):
    r = subprocess.run([probe, *args], input=stdin, capture_output=True, check=True)
    lines = {}
    entries = []
    for line in r.stdout.decode().splitlines():
        parts = line.split(" ")
        entries.append(parts)
        lines.setdefault(parts[0], []).append(parts[1:])
    return lines, entries


def digest_of(data):
    return "%s/%d" % (hashlib.sha256(data).hexdigest(), len(data))


def build_tree_independently(rex, root):
    """Walks `root` like the REv2 spec says and returns (root digest, {digest: bytes})."""
    blobs = {}

    def visit(path):
        d = rex.Directory()
        names = sorted(os.listdir(path), key=lambda n: n.encode())
        for name in names:
            full = os.path.join(path, name)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                d.symlinks.add(name=name, target=os.readlink(full))
            elif stat.S_ISDIR(st.st_mode):
                child = visit(full)
                h, size = child.split("/")
                d.directories.add(name=name, digest=rex.Digest(hash=h, size_bytes=int(size)))
            else:
                data = open(full, "rb").read()
                d.files.add(name=name,
                            digest=rex.Digest(hash=hashlib.sha256(data).hexdigest(), size_bytes=len(data)),
                            is_executable=bool(st.st_mode & stat.S_IXUSR))
        data = d.SerializeToString(deterministic=True)
        blobs[digest_of(data)] = data
        return digest_of(data)

    return visit(root), blobs


def test_merkle_tree_matches_independent_hashes(pb, probe, tmp_path):
    root = tmp_path / "root"
    (root / "src" / "include").mkdir(parents=True)
    (root / "src" / "main.c").write_bytes(b"int main(void) { return 0; }\n")
    (root / "src" / "Zebra.h").write_bytes(b"#define Z 1\n")
    (root / "src" / "include" / "a.h").write_bytes(b"")
    (root / "tool").write_bytes(b"#!/bin/sh\necho hi\n")
    os.chmod(root / "tool", 0o755)
    os.symlink("src/main.c", root / "link-to-main")
    (root / "empty").mkdir()
    (root / "dup1").mkdir()
    (root / "dup2").mkdir()
    (root / "dup1" / "same").write_bytes(b"same bytes")
    (root / "dup2" / "same").write_bytes(b"same bytes")
    (root / "\u00e9t\u00e9.txt").write_bytes("accents sort by UTF-8 bytes".encode())

    lines, _ = run_probe(probe, "tree", str(root))
    want_root, want_blobs = build_tree_independently(pb.rex, str(root))
    assert lines["root"][0][0] == want_root
    got_blobs = {d: bytes.fromhex(h) if h else b"" for d, *rest in lines["directory"] for h in (rest[0] if rest else "",)}
    assert got_blobs == want_blobs
    # Every blob's name is the SHA-256 of its bytes.
    for d, data in got_blobs.items():
        assert digest_of(data) == d


def test_command_and_action_bytes_match_reference(pb, probe):
    rex = pb.rex
    root = digest_of(b"pretend root")
    lines, _ = run_probe(
        probe, "action",
        "--arg", "/usr/bin/cc", "--arg", "-c", "--arg", "hello.c", "--arg", "-o", "--arg", "out/hello.o",
        "--env", "PATH=/usr/bin:/bin", "--env", "LANG=C",
        "--out", "out/hello.o", "--out", "out/hello.d",
        "--platform", "container-image=docker://img", "--platform", "OSFamily=linux",
        "--cwd", "work", "--root", root, "--timeout-ms", "120000", "--no-cache")

    platform = rex.Platform()
    platform.properties.add(name="OSFamily", value="linux")
    platform.properties.add(name="container-image", value="docker://img")
    cmd = rex.Command(arguments=["/usr/bin/cc", "-c", "hello.c", "-o", "out/hello.o"],
                      output_paths=["out/hello.d", "out/hello.o"],
                      working_directory="work")
    cmd.environment_variables.add(name="LANG", value="C")
    cmd.environment_variables.add(name="PATH", value="/usr/bin:/bin")
    cmd.platform.CopyFrom(platform)
    cmd_bytes = cmd.SerializeToString(deterministic=True)
    cmd_digest, cmd_hex = lines["command"][0]
    assert bytes.fromhex(cmd_hex) == cmd_bytes
    assert cmd_digest == digest_of(cmd_bytes)

    h, size = cmd_digest.split("/")
    rh, rsize = root.split("/")
    action = rex.Action(command_digest=rex.Digest(hash=h, size_bytes=int(size)),
                        input_root_digest=rex.Digest(hash=rh, size_bytes=int(rsize)),
                        do_not_cache=True)
    action.timeout.seconds = 120
    action.platform.CopyFrom(platform)
    act_bytes = action.SerializeToString(deterministic=True)
    act_digest, act_hex = lines["action"][0]
    assert bytes.fromhex(act_hex) == act_bytes
    assert act_digest == digest_of(act_bytes)

    # The two mistakes goma's own proxy makes against Buildbarn:
    decoded = rex.Action.FromString(bytes.fromhex(act_hex))
    assert decoded.HasField("platform"), "platform must be in Action, not only in Command"
    decoded_cmd = rex.Command.FromString(bytes.fromhex(cmd_hex))
    assert list(decoded_cmd.output_files) == [] and list(decoded_cmd.output_directories) == []


def test_precondition_failure_parsed_from_reference_bytes(pb, probe):
    pf = pb.details.PreconditionFailure()
    missing = [digest_of(b"one"), digest_of(b"two")]
    for m in missing:
        pf.violations.add(type="MISSING", subject="blobs/" + m, description="absent")
    pf.violations.add(type="SOMETHING_ELSE", subject="blobs/" + digest_of(b"three"))
    st = pb.status.Status(code=9, message="2 blobs missing")
    st.details.add().Pack(pf)
    lines, _ = run_probe(probe, "status", stdin=st.SerializeToString())
    assert lines["code"] == [["FAILED_PRECONDITION"]]
    assert " ".join(lines["message"][0]) == "2 blobs missing"
    assert [m[0] for m in lines["missing"]] == missing
