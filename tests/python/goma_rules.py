"""The goma client's rules for what it receives, written from the protocol
notes (goma-protocol.md §3, §4.11, §5, §6.4, §7.9) and applied to messages
decoded by Python's protobuf (an independent decoder). Each function
returns a list of problems; an empty list means the client would accept
the message. A few rules are gomabarn's own promises (said so below)."""
import hashlib
import posixpath

FILE_UNSPECIFIED, FILE, FILE_META, FILE_CHUNK, FILE_REF = 0, 1, 2, 3, 5
OK, BAD_REQUEST = 0, -1
CACHE_SOURCES = (0, 1, 2, 3)  # NO_CACHE, MEM_CACHE, STORAGE_CACHE, LOCAL_OUTPUT_CACHE


def blob_problems(blob, where="blob"):
    """goma's blob validity check (lib/goma_data_util.cc, as the notes
    describe it): presence of offset/content/file_size matters."""
    p = []
    if not blob.HasField("blob_type"):
        return [where + ": blob_type (required) is missing"]
    t = blob.blob_type
    has = blob.HasField
    if t not in (FILE, FILE_META, FILE_CHUNK, FILE_REF):
        return [where + ": blob_type %d is not a valid blob" % t]
    if not has("file_size") or blob.file_size < 0:
        p.append(where + ": file_size must be present and >= 0")
    if t == FILE:
        if not has("content"):
            p.append(where + ": FILE without content (an empty file still has content present)")
        elif has("file_size") and len(blob.content) != blob.file_size:
            p.append(where + ": FILE content is %d bytes, file_size says %d" % (len(blob.content), blob.file_size))
        if has("offset") or blob.hash_key:
            p.append(where + ": FILE must have neither offset nor hash_key")
    elif t == FILE_META:
        if len(blob.hash_key) < 2:
            p.append(where + ": FILE_META needs at least 2 chunk keys, has %d" % len(blob.hash_key))
        if has("offset") or has("content"):
            p.append(where + ": FILE_META must have neither offset nor content")
    elif t == FILE_CHUNK:
        if not has("offset") or not has("content"):
            p.append(where + ": FILE_CHUNK needs offset and content present (offset 0 too)")
        if blob.hash_key:
            p.append(where + ": FILE_CHUNK must have no hash_key")
    elif t == FILE_REF:
        if len(blob.hash_key) != 1:
            p.append(where + ": FILE_REF needs exactly 1 key")
        if has("offset") or has("content"):
            p.append(where + ": FILE_REF must have neither offset nor content")
    return p


def chunks_problems(meta, chunks, where="FILE_META"):
    """A FILE_META's chunks as LookupFile returned them: one per key, each
    valid, laid end to end from offset 0, adding up to the META's
    file_size. A chunk's own file_size is its length (what goma's client
    writes) or the whole size (goma's server); anything else is wrong."""
    p = []
    if len(chunks) != len(meta.hash_key):
        p.append("%s: %d keys but %d chunks" % (where, len(meta.hash_key), len(chunks)))
    at = 0
    for n, c in enumerate(chunks):
        p += blob_problems(c, "%s chunk %d" % (where, n))
        if c.blob_type != FILE_CHUNK:
            p.append("%s chunk %d: blob_type %d, not FILE_CHUNK" % (where, n, c.blob_type))
            continue
        if c.offset != at:
            p.append("%s chunk %d: offset %d, expected %d" % (where, n, c.offset, at))
        if c.file_size not in (len(c.content), meta.file_size):
            p.append("%s chunk %d: file_size %d is neither its length %d nor the file's %d"
                     % (where, n, c.file_size, len(c.content), meta.file_size))
        at += len(c.content)
    if at != meta.file_size:
        p.append("%s: chunks hold %d bytes, file_size says %d" % (where, at, meta.file_size))
    return p


def lookup_problems(resp, keys):
    """A LookupFileResp: one blob per key, in request order. A key the
    server lacks gets a FILE_UNSPECIFIED placeholder (blob_type present:
    it is required); every other blob is valid."""
    p = []
    if len(resp.blob) != len(keys):
        p.append("LookupFile: %d keys asked, %d blobs answered" % (len(keys), len(resp.blob)))
    for n, b in enumerate(resp.blob):
        if b.HasField("blob_type") and b.blob_type == FILE_UNSPECIFIED:
            continue  # "not found"
        p += blob_problems(b, "LookupFile blob %d" % n)
    return p


def store_problems(resp, req):
    """A StoreFileResp: one key per blob sent, the SHA-256 of the blob's
    bytes (the client compares it with its own) or "" for a refused blob."""
    p = []
    if len(resp.hash_key) != len(req.blob):
        p.append("StoreFile: %d blobs sent, %d keys answered" % (len(req.blob), len(resp.hash_key)))
    for n, (k, b) in enumerate(zip(resp.hash_key, req.blob)):
        if k and k != hashlib.sha256(b.SerializeToString()).hexdigest():
            p.append("StoreFile key %d: %s is not the SHA-256 of the blob sent" % (n, k))
    return p


def _expected(name, req):
    """Is an output one the request asked for (a file, or below a dir)?"""
    name = posixpath.normpath(name)
    files = {posixpath.normpath(f) for f in req.expected_output_files}
    dirs = [posixpath.normpath(d) + "/" for d in req.expected_output_dirs]
    return name in files or any(name.startswith(d) for d in dirs)


def exec_resp_problems(resp, req=None):
    """An ExecResp: a result that the client can use, or a reason it can
    act on (missing inputs to upload, an error to show). Never the
    mistake goma's own proxy makes against Buildbarn: exit status 0 with
    none of the expected output files. With the ExecReq, missing_input
    and the outputs are checked against what was sent."""
    p = []
    missing = list(resp.missing_input)
    # The client does not pair them; gomabarn promises they are parallel.
    if len(missing) != len(resp.missing_reason):
        p.append("missing_input (%d) and missing_reason (%d) are not parallel" % (len(missing), len(resp.missing_reason)))
    if resp.error not in (OK, BAD_REQUEST):
        p.append("error %d is no ExecError (OK 0, BAD_REQUEST -1)" % resp.error)
    if resp.cache_hit not in CACHE_SOURCES:
        p.append("cache_hit %d is no CacheSource" % resp.cache_hit)
    if resp.error == BAD_REQUEST and not resp.error_message:
        p.append("BAD_REQUEST without an error_message to show")
    if missing and resp.error == BAD_REQUEST:
        p.append("missing_input with BAD_REQUEST: the client gives up instead of uploading")
    if req is not None:
        sent = [i.filename for i in req.input]
        p += ["missing_input %r is not a filename as sent" % m for m in missing if m not in sent]
        if len(set(missing)) != len(missing):
            p.append("missing_input names a file twice")
    if resp.HasField("result"):
        p += _result_problems(resp, req)
    elif not missing and not resp.error_message and resp.error != BAD_REQUEST:
        p.append("no result, no missing_input, no error_message: nothing the client can act on")
    return p


def _result_problems(resp, req):
    r = resp.result
    p = []
    if not r.HasField("exit_status"):
        p.append("ExecResult.exit_status (required) is missing")
    if r.HasField("command_spec"):
        # The client compares it with its own compiler and, on any
        # difference, disables that compiler (GOMA_HERMETIC=fallback).
        p.append("ExecResult.command_spec is set")
    if resp.missing_input:
        p.append("a result and missing_input at once")
    if r.exit_status == 0 and (resp.error_message or resp.error == BAD_REQUEST):
        p.append("exit status 0 together with an error: is it a success or not?")
    names = [o.filename for o in r.output]
    if len(set(names)) != len(names):
        p.append("an output filename appears twice: %s" % names)
    for n, out in enumerate(r.output):
        where = "output %d (%s)" % (n, out.filename or "no name")
        if not out.filename:
            p.append(where + ": no filename")
        elif req is not None and not _expected(out.filename, req):
            p.append(where + ": not among the expected output files or dirs")
        if not out.HasField("blob"):
            p.append(where + ": no blob")
        else:
            p += blob_problems(out.blob, where)
    files = {posixpath.normpath(f) for f in req.expected_output_files} if req is not None else set()
    if r.exit_status == 0 and files and not files & {posixpath.normpath(n) for n in names}:
        p.append("exit status 0 with none of the expected outputs %s" % sorted(files))
    return p
