/* fuzz_rpc_status: google.rpc.Status from Buildbarn (the
 * "grpc-status-details-bin" trailer, ExecuteResponse.status) read into a
 * rev2_error (gateway/rev2/rev2_error.h), with the MISSING digests of a
 * PreconditionFailure; and the digest names those come in.
 *
 * Input: the serialized Status. Checked: the error is complete (code not
 * OK, a message, valid digests) and a copy keeps it; the input read as
 * text "<hash>/<size>" or "<hash>-<size>" parses to a digest whose own
 * text parses back to it. */
#include "fuzz_common.h"

#include "rev2_digest.h"
#include "rev2_error.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    return 0;
}

static void digest_text(const uint8_t *data, size_t size)
{
    char *text = gmb_strndup((const char *)(size ? data : (const uint8_t *)""), size);
    rev2_digest d;
    if (rev2_digest_parse(text, &d)) {
        FUZZ_CHECK(rev2_hash_is_valid(d.hash) && d.size >= 0, "parsed an invalid digest from \"%s\"", text);
        char buf[REV2_DIGEST_STR_LEN];
        rev2_digest again;
        FUZZ_CHECK(rev2_digest_parse(rev2_digest_str(&d, buf), &again) && rev2_digest_equal(&d, &again),
                   "\"%s\" does not parse back", buf);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rev2_error *e = rev2_error_from_status_bytes(size ? data : NULL, size);
    if (e) {
        FUZZ_CHECK(e->code != REV2_OK, "an error with code OK");
        FUZZ_CHECK(e->message != NULL, "no message");
        for (size_t i = 0; i < e->n_missing; i++)
            FUZZ_CHECK(rev2_hash_is_valid(e->missing[i].hash) && e->missing[i].size >= 0,
                       "missing digest %zu is not valid", i);
        rev2_error *copy = rev2_error_copy(e);
        FUZZ_CHECK(copy->code == e->code && strcmp(copy->message, e->message) == 0 && copy->n_missing == e->n_missing &&
                       (e->n_missing == 0 || memcmp(copy->missing, e->missing, e->n_missing * sizeof *e->missing) == 0),
                   "the copy differs");
        rev2_error_prefix(copy, "%s", rev2_code_name(e->code));
        (void)rev2_code_is_retryable(e->code);
        (void)rev2_error_is_no_workers(copy);
        rev2_error_free(copy);
        rev2_error_free(e);
    }
    digest_text(data, size);
    return 0;
}
