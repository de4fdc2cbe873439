"""The goma client's rules for what it receives, written from the protocol
notes (goma-protocol.md §3, §5.2, §5.3) and applied to messages decoded by
Python's protobuf (an independent decoder). Each function returns a list
of problems; an empty list means the client would accept the message."""

FILE, FILE_META, FILE_CHUNK, FILE_REF = 1, 2, 3, 5
BAD_REQUEST = -1


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
    """A FILE_META's chunks as LookupFile returned them: each valid, laid
    end to end from offset 0, adding up to the META's file_size."""
    p = []
    at = 0
    for n, c in enumerate(chunks):
        p += blob_problems(c, "%s chunk %d" % (where, n))
        if c.blob_type != FILE_CHUNK:
            p.append("%s chunk %d: blob_type %d, not FILE_CHUNK" % (where, n, c.blob_type))
        elif c.offset != at:
            p.append("%s chunk %d: offset %d, expected %d" % (where, n, c.offset, at))
        at += len(c.content)
    if at != meta.file_size:
        p.append("%s: chunks hold %d bytes, file_size says %d" % (where, at, meta.file_size))
    return p


def exec_resp_problems(resp, expected_outputs=()):
    """An ExecResp: a result that the client can use, or a reason it can
    act on (missing inputs to upload, an error to show). Never the
    mistake goma's own proxy makes against Buildbarn: exit status 0 with
    none of the expected output files."""
    p = []
    missing = len(resp.missing_input)
    if missing != len(resp.missing_reason):
        p.append("missing_input (%d) and missing_reason (%d) are not parallel" % (missing, len(resp.missing_reason)))
    if resp.HasField("result"):
        r = resp.result
        if not r.HasField("exit_status"):
            p.append("ExecResult.exit_status (required) is missing")
        for n, out in enumerate(r.output):
            where = "output %d (%s)" % (n, out.filename or "no name")
            if not out.filename:
                p.append(where + ": no filename")
            if not out.HasField("blob"):
                p.append(where + ": no blob")
            else:
                p += blob_problems(out.blob, where)
        names = {o.filename for o in r.output}
        if r.exit_status == 0 and expected_outputs and not names & set(expected_outputs):
            p.append("exit status 0 with none of the expected outputs %s" % list(expected_outputs))
        if missing:
            p.append("a result and missing_input at once")
    elif not missing and not resp.error_message and resp.error != BAD_REQUEST:
        p.append("no result, no missing_input, no error_message: nothing the client can act on")
    if resp.error == BAD_REQUEST and not resp.error_message:
        p.append("BAD_REQUEST without an error_message to show")
    return p
