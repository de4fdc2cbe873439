/* fuzz_exec_stream: the Operations of an Execute / WaitExecution stream
 * (gateway/rev2/rev2_exec_stream.h), as Buildbarn sends them.
 *
 * Input: a sequence of messages, each a 4-byte big-endian length (clamped
 * to what is left) and that many bytes of google.longrunning.Operation
 * (the layout of tests/data/untrusted/two_failed_operations.bin). They are
 * fed in order; then the outcome is taken as rev2_execute does, the
 * error is used the ways callers use it, the ActionResult of a finished
 * execution is checked as a goma answer would be, and the stream is
 * cleared. LeakSanitizer sees everything an earlier Operation left. */
#include "fuzz_common.h"

#include "rev2_error.h"
#include "rev2_exec_stream.h"
#include "rev2_output_list.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    return 0;
}

/* A finished execution's output directories are not fetched here. */
static Rev2Tree *no_tree(void *user, const rev2_digest *d, char **err)
{
    *err = gmb_strdup("not fetched while fuzzing");
    return NULL;
}

static void use_error(const rev2_error *e)
{
    FUZZ_CHECK(e->code != REV2_OK, "an error with code OK");
    FUZZ_CHECK(e->message != NULL, "an error without a message");
    FUZZ_CHECK(e->n_missing == 0 || e->missing != NULL, "missing digests without storage");
    for (size_t i = 0; i < e->n_missing; i++)
        FUZZ_CHECK(rev2_hash_is_valid(e->missing[i].hash) && e->missing[i].size >= 0, "missing digest %zu invalid", i);
    rev2_error *copy = rev2_error_copy(e);
    rev2_error_prefix(copy, "execute %s", rev2_code_name(copy->code));
    (void)rev2_code_is_retryable(copy->code);
    (void)rev2_error_is_no_workers(copy);
    FUZZ_CHECK(copy->n_missing == e->n_missing, "a copy lost missing digests");
    rev2_error_free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_cursor c;
    fuzz_cursor_init(&c, data, size);
    rev2_exec_stream s;
    rev2_exec_stream_init(&s);
    int last_stage = -1;
    while (c.left > 0) {
        const uint8_t *msg;
        size_t len;
        fuzz_slice(&c, 4, &msg, &len);
        bool changed = rev2_exec_stream_feed(&s, msg, len);
        if (changed)
            FUZZ_CHECK(s.stage != last_stage, "stage reported changed but is still %d", s.stage);
        last_stage = s.stage;
        FUZZ_CHECK(!s.operation_name || *s.operation_name, "an empty operation name kept");
        if (s.done)
            FUZZ_CHECK(s.op_error || s.response, "done without an error or a response");
    }
    if (s.done) {
        rev2_error *e = rev2_exec_stream_outcome(&s);
        if (e) {
            use_error(e);
            rev2_error_free(e);
        } else {
            FUZZ_CHECK(s.response && s.response->result, "no error but no ActionResult");
            rev2_output_list l;
            char *err = NULL;
            rev2_output_limits lim = {REV2_OUTPUT_DEFAULT_MAX_OUTPUTS, REV2_OUTPUT_DEFAULT_MAX_BYTES, 0};
            if (rev2_output_list_build(s.response->result, NULL, 0, &lim, no_tree, NULL, &l, &err) == 0)
                rev2_output_list_free(&l);
            else
                free(err);
        }
        /* What the outcome did not take stays with the stream. */
        FUZZ_CHECK(s.op_error == NULL, "the outcome left its error behind");
    }
    rev2_exec_stream_clear(&s);
    FUZZ_CHECK(s.stage == -1 && !s.done && !s.operation_name && !s.response, "clear left state behind");
    return 0;
}
