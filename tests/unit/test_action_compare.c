/* action_compare: runs taken from ExecuteResponses, verdicts, the
 * report's percentiles and its text and JSON (the JSON checked by
 * Python's json module). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "action_compare.h"
#include "check.h"
#include "errmsg.h"
#include "mem.h"

/* An ExecuteResponse built in place: one output file "out" (contents
 * `content`), a symlink "link", inline stdout, and worker timestamps with
 * the given phase durations in milliseconds. */
typedef struct {
    Rev2ExecuteResponse resp;
    Rev2ActionResult result;
    Rev2ExecMetadata md;
    GpbTimestamp t[8];
    Rev2OutputFile file;
    Rev2OutputFile *files[1];
    Rev2Digest file_digest;
    rev2_digest file_d;
    Rev2OutputSymlink link;
    Rev2OutputSymlink *links[1];
} fake_response;

static void set_ts(GpbTimestamp *t, double s)
{
    google__protobuf__timestamp__init(t);
    t->seconds = (int64_t)s;
    t->nanos = (int32_t)((s - (double)(int64_t)s) * 1e9 + 0.5);
}

static void fake_init(fake_response *f, int exit_code, const char *content, const char *target, double queued_ms,
                      double fetch_ms, double exec_ms, double upload_ms)
{
    memset(f, 0, sizeof *f);
    Rev2ExecuteResponse r0 = BUILD__BAZEL__REMOTE__EXECUTION__V2__EXECUTE_RESPONSE__INIT;
    Rev2ActionResult a0 = BUILD__BAZEL__REMOTE__EXECUTION__V2__ACTION_RESULT__INIT;
    Rev2ExecMetadata m0 = BUILD__BAZEL__REMOTE__EXECUTION__V2__EXECUTED_ACTION_METADATA__INIT;
    Rev2OutputFile o0 = BUILD__BAZEL__REMOTE__EXECUTION__V2__OUTPUT_FILE__INIT;
    Rev2Digest d0 = BUILD__BAZEL__REMOTE__EXECUTION__V2__DIGEST__INIT;
    Rev2OutputSymlink l0 = BUILD__BAZEL__REMOTE__EXECUTION__V2__OUTPUT_SYMLINK__INIT;
    f->resp = r0;
    f->result = a0;
    f->md = m0;
    f->file = o0;
    f->file_digest = d0;
    f->link = l0;
    double ms[4] = {queued_ms, fetch_ms, exec_ms, upload_ms}, at[8], t = 1000;
    for (int i = 0; i < 4; i++) {
        at[2 * i] = t; /* each phase starts where the last one ended */
        t += ms[i] / 1e3;
        at[2 * i + 1] = t;
    }
    for (int i = 0; i < 8; i++)
        set_ts(&f->t[i], at[i]);
    f->md.worker = "worker-1";
    f->md.queued_timestamp = &f->t[0];
    f->md.worker_start_timestamp = &f->t[1];
    f->md.input_fetch_start_timestamp = &f->t[2];
    f->md.input_fetch_completed_timestamp = &f->t[3];
    f->md.execution_start_timestamp = &f->t[4];
    f->md.execution_completed_timestamp = &f->t[5];
    f->md.output_upload_start_timestamp = &f->t[6];
    f->md.output_upload_completed_timestamp = &f->t[7];
    f->result.execution_metadata = &f->md;
    f->result.exit_code = exit_code;
    f->result.stdout_raw.data = (uint8_t *)"hello\n";
    f->result.stdout_raw.len = 6;
    if (content) {
        rev2_digest_of_bytes(content, strlen(content), &f->file_d);
        rev2_digest_to_proto(&f->file_d, &f->file_digest);
        f->file.path = "out";
        f->file.digest = &f->file_digest;
        f->files[0] = &f->file;
        f->result.output_files = f->files;
        f->result.n_output_files = 1;
    }
    if (target) {
        f->link.path = "link";
        f->link.target = (char *)target;
        f->links[0] = &f->link;
        f->result.output_symlinks = f->links;
        f->result.n_output_symlinks = 1;
    }
    f->resp.result = &f->result;
}

static void digest_of(const char *s, rev2_digest *d)
{
    rev2_digest_of_bytes(s, strlen(s), d);
}

static bool near(double a, double b)
{
    return a - b < 1e-6 && b - a < 1e-6;
}

static void run_from_response(void)
{
    fake_response f;
    fake_init(&f, 3, "abc", "target", 10, 20, 30, 40);
    action_run run;
    action_run_from_execute(&run, "fuse", NULL, &f.resp);
    CHECK(run.error == NULL);
    CHECK_STR(run.instance, "fuse");
    CHECK_STR(run.worker, "worker-1");
    CHECK_INT(run.exit_code, 3);
    CHECK(near(run.phase_s[ACTION_PHASE_QUEUED], 0.010));
    CHECK(near(run.phase_s[ACTION_PHASE_INPUT_FETCH], 0.020));
    CHECK(near(run.phase_s[ACTION_PHASE_EXECUTION], 0.030));
    CHECK(near(run.phase_s[ACTION_PHASE_OUTPUT_UPLOAD], 0.040));
    CHECK(near(run.phase_s[ACTION_PHASE_TOTAL], 0.100));
    CHECK_INT(run.n_outputs, 2);
    /* Sorted by path: "link" before "out". */
    CHECK_STR(run.outputs[0].path, "link");
    CHECK_INT(run.outputs[0].kind, ACTION_OUTPUT_SYMLINK);
    CHECK_STR(run.outputs[0].target, "target");
    CHECK_STR(run.outputs[1].path, "out");
    rev2_digest d;
    digest_of("abc", &d);
    CHECK(rev2_digest_equal(&run.outputs[1].digest, &d));
    /* Inline stdout is hashed; absent stderr is the empty blob. */
    digest_of("hello\n", &d);
    CHECK(rev2_digest_equal(&run.stdout_digest, &d));
    CHECK(rev2_digest_equal(&run.stderr_digest, &rev2_empty_digest));
    action_run_free(&run);

    /* No metadata: phases unknown, not zero. */
    f.result.execution_metadata = NULL;
    action_run_from_execute(&run, "fuse", NULL, &f.resp);
    CHECK(run.phase_s[ACTION_PHASE_TOTAL] < 0);
    CHECK_STR(run.worker, "");
    action_run_free(&run);

    /* No result at all: a failure. */
    f.resp.result = NULL;
    action_run_from_execute(&run, "fuse", NULL, &f.resp);
    CHECK_CONTAINS(run.error, "no ActionResult");
    action_run_free(&run);
}

/* From an ActionResult the caller holds (a gateway's own execution). */
static void run_from_result(void)
{
    fake_response f;
    fake_init(&f, 2, "abc", NULL, 10, 20, 30, 40);
    action_run run;
    action_run_from_result(&run, "primary", &f.result, true);
    CHECK(run.error == NULL);
    CHECK_STR(run.instance, "primary");
    CHECK(run.cached);
    CHECK_INT(run.exit_code, 2);
    CHECK_STR(run.worker, "worker-1");
    CHECK(near(run.phase_s[ACTION_PHASE_EXECUTION], 0.030));
    CHECK(near(run.phase_s[ACTION_PHASE_TOTAL], 0.100));
    CHECK_INT(run.n_outputs, 1);
    rev2_digest d;
    digest_of("abc", &d);
    if (run.n_outputs == 1)
        CHECK(rev2_digest_equal(&run.outputs[0].digest, &d));
    /* The same facts as through an ExecuteResponse. */
    action_run via;
    f.resp.cached_result = 0;
    action_run_from_execute(&via, "primary", NULL, &f.resp);
    CHECK(!via.cached);
    rev2_digest act;
    digest_of("action", &act);
    action_run both[2] = {run, via};
    action_comparison c;
    action_compare(&act, NULL, both, 2, &c);
    CHECK_INT(c.verdict, ACTION_MATCH);
    action_comparison_free(&c);
    action_run_free(&via);
    action_run_free(&run);

    action_run_from_result(&run, "primary", NULL, false);
    CHECK_CONTAINS(run.error, "no ActionResult");
    action_run_free(&run);
}

/* A cached run's metadata is an old execution's: no phase samples from it. */
static void report_skips_cached_phases(void)
{
    const char *names[] = {"hardlinking", "fuse"};
    action_report *r = action_report_new(names, 2, NULL);
    for (int k = 1; k <= 4; k++) {
        fake_response a, b;
        fake_init(&a, 0, "same", NULL, k, k, k, k);
        fake_init(&b, 0, "same", NULL, 100, 100, 100, 100);
        b.resp.cached_result = k != 4; /* fuse executed only the 4th */
        action_run runs[2];
        action_run_from_execute(&runs[0], names[0], NULL, &a.resp);
        action_run_from_execute(&runs[1], names[1], NULL, &b.resp);
        char name[32];
        snprintf(name, sizeof name, "action %d", k);
        rev2_digest act;
        digest_of(name, &act);
        CHECK_INT(action_report_add(r, &act, NULL, runs), ACTION_MATCH);
        action_run_free(&runs[0]);
        action_run_free(&runs[1]);
    }
    action_phase_stats s;
    action_report_phase(r, 0, ACTION_PHASE_EXECUTION, &s);
    CHECK_INT(s.n, 4);
    action_report_phase(r, 1, ACTION_PHASE_EXECUTION, &s);
    CHECK_INT(s.n, 1);
    CHECK(near(s.p50, 0.100));
    action_instance_counts ic;
    action_report_instance_counts(r, 1, &ic);
    CHECK_INT(ic.runs, 4);
    CHECK_INT(ic.cached, 3);
    action_report_counts c;
    action_report_counts_get(r, &c);
    CHECK_INT(c.matched, 4);
    action_report_free(r);
}

static void verdict_match(void)
{
    fake_response a, b;
    fake_init(&a, 0, "same", "t", 1, 2, 3, 4);
    fake_init(&b, 0, "same", "t", 5, 6, 7, 8);
    action_run runs[2];
    action_run_from_execute(&runs[0], "hardlinking", NULL, &a.resp);
    action_run_from_execute(&runs[1], "fuse", NULL, &b.resp);
    rev2_digest act;
    digest_of("action", &act);
    action_comparison c;
    action_compare(&act, NULL, runs, 2, &c);
    CHECK_INT(c.verdict, ACTION_MATCH);
    CHECK_INT(c.n_differences, 0);
    CHECK(rev2_digest_equal(&c.executed, &act));
    CHECK_STR(action_verdict_name(c.verdict), "match");
    action_comparison_free(&c);
    action_run_free(&runs[0]);
    action_run_free(&runs[1]);
}

static void verdict_mismatch(void)
{
    fake_response a, b;
    fake_init(&a, 0, "one", "t1", 1, 2, 3, 4);
    fake_init(&b, 1, "two", "t2", 1, 2, 3, 4);
    b.file.is_executable = 1;
    b.result.stderr_raw.data = (uint8_t *)"warning\n";
    b.result.stderr_raw.len = 8;
    action_run runs[2];
    action_run_from_execute(&runs[0], "hardlinking", NULL, &a.resp);
    action_run_from_execute(&runs[1], "fuse", NULL, &b.resp);
    rev2_digest act, twin;
    digest_of("action", &act);
    digest_of("twin", &twin);
    action_comparison c;
    action_compare(&act, &twin, runs, 2, &c);
    CHECK_INT(c.verdict, ACTION_MISMATCH);
    CHECK(rev2_digest_equal(&c.executed, &twin));
    /* exit code, link, out, stderr (stdout is equal). */
    CHECK_INT(c.n_differences, 4);
    if (c.n_differences == 4) {
        char ds[REV2_DIGEST_STR_LEN];
        rev2_digest d1, d2;
        digest_of("one", &d1);
        digest_of("two", &d2);
        CHECK_STR(c.differences[0].what, "exit code");
        CHECK_STR(c.differences[0].values[0], "0");
        CHECK_STR(c.differences[0].values[1], "1");
        CHECK_STR(c.differences[1].what, "output link");
        CHECK_STR(c.differences[1].values[1], "symlink to t2");
        CHECK_STR(c.differences[2].what, "output out");
        CHECK_STR(c.differences[2].values[0], rev2_digest_str(&d1, ds));
        char *exe = gmb_format("%s executable", rev2_digest_str(&d2, ds));
        CHECK_STR(c.differences[2].values[1], exe);
        free(exe);
        CHECK_STR(c.differences[3].what, "stderr");
    }
    action_comparison_free(&c);
    action_run_free(&runs[1]);

    /* An output only one run has. */
    fake_init(&b, 0, NULL, "t1", 1, 2, 3, 4);
    action_run_from_execute(&runs[1], "fuse", NULL, &b.resp);
    action_compare(&act, NULL, runs, 2, &c);
    CHECK_INT(c.verdict, ACTION_MISMATCH);
    CHECK_INT(c.n_differences, 1);
    if (c.n_differences == 1) {
        CHECK_STR(c.differences[0].what, "output out");
        CHECK_STR(c.differences[0].values[1], "absent");
    }
    action_comparison_free(&c);
    action_run_free(&runs[0]);
    action_run_free(&runs[1]);
}

static void verdict_failed_in_plain_words(void)
{
    rev2_error *e =
        rev2_error_new(REV2_FAILED_PRECONDITION, "No workers exist for instance name prefix \"nowhere\" platform {}");
    char *plain = action_error_explain(e);
    CHECK_CONTAINS(plain, "no worker serves this instance name");
    CHECK_CONTAINS(plain, "Buildbarn said: No workers exist for instance name prefix \"nowhere\"");
    CHECK_CONTAINS(plain, "(FAILED_PRECONDITION)");
    free(plain);

    fake_response a;
    fake_init(&a, 0, "x", NULL, 1, 2, 3, 4);
    action_run runs[2];
    action_run_from_execute(&runs[0], "hardlinking", NULL, &a.resp);
    action_run_from_execute(&runs[1], "nowhere", e, NULL);
    rev2_error_free(e);
    CHECK_INT(runs[1].error_code, REV2_FAILED_PRECONDITION);
    rev2_digest act;
    digest_of("action", &act);
    action_comparison c;
    action_compare(&act, NULL, runs, 2, &c);
    CHECK_INT(c.verdict, ACTION_FAILED);
    CHECK(c.errors[0] == NULL);
    CHECK_CONTAINS(c.errors[1], "no worker serves");
    action_comparison_free(&c);
    action_run_free(&runs[0]);
    action_run_free(&runs[1]);

    /* MISSING blobs and a worker failure. */
    e = rev2_error_new(REV2_UNKNOWN, "Failed to run command: file exists");
    plain = action_error_explain(e);
    CHECK_CONTAINS(plain, "the worker or Buildbarn failed while running the action");
    free(plain);
    rev2_error_free(e);
    e = rev2_error_new(REV2_FAILED_PRECONDITION, "missing");
    e->missing = gmb_calloc(1, sizeof *e->missing);
    digest_of("gone", &e->missing[0]);
    e->n_missing = 1;
    plain = action_error_explain(e);
    CHECK_CONTAINS(plain, "inputs of the action are missing from the CAS (1 blob, e.g. ");
    free(plain);
    rev2_error_free(e);
}

/* 100 actions: phases of k ms on hardlinking and 2k ms on fuse. */
static action_report *report_of_100(const action_report_options *o)
{
    const char *names[] = {"hardlinking", "fuse"};
    action_report *r = action_report_new(names, 2, o);
    for (int k = 1; k <= 100; k++) {
        fake_response a, b;
        fake_init(&a, 0, "same", NULL, k, k, k, k);
        fake_init(&b, 0, k == 7 ? "other" : "same", NULL, 2 * k, 2 * k, 2 * k, 2 * k);
        action_run runs[2];
        action_run_from_execute(&runs[0], "hardlinking", NULL, &a.resp);
        action_run_from_execute(&runs[1], "fuse", NULL, &b.resp);
        char name[32];
        snprintf(name, sizeof name, "action %d", k);
        rev2_digest act;
        digest_of(name, &act);
        action_verdict v = action_report_add(r, &act, NULL, runs);
        CHECK_INT(v, k == 7 ? ACTION_MISMATCH : ACTION_MATCH);
        action_run_free(&runs[0]);
        action_run_free(&runs[1]);
    }
    return r;
}

static void report_percentiles(void)
{
    action_report *r = report_of_100(NULL);
    action_report_counts c;
    action_report_counts_get(r, &c);
    CHECK_INT(c.actions, 100);
    CHECK_INT(c.matched, 99);
    CHECK_INT(c.mismatched, 1);
    CHECK_INT(c.failed, 0);
    action_phase_stats s;
    action_report_phase(r, 0, ACTION_PHASE_EXECUTION, &s);
    CHECK_INT(s.n, 100);
    CHECK(near(s.p50, 0.050));
    CHECK(near(s.p90, 0.090));
    CHECK(near(s.p99, 0.099));
    action_report_phase(r, 1, ACTION_PHASE_TOTAL, &s);
    CHECK(near(s.p50, 0.400));
    action_instance_counts ic;
    action_report_instance_counts(r, 1, &ic);
    CHECK_INT(ic.runs, 100);
    CHECK_INT(ic.failed, 0);
    action_report_free(r);

    /* Only the newest 10 samples kept: 91..100 ms. */
    action_report_options o = {.max_samples = 10, .max_kept = 1};
    r = report_of_100(&o);
    action_report_phase(r, 0, ACTION_PHASE_QUEUED, &s);
    CHECK_INT(s.n, 10);
    CHECK(near(s.p50, 0.095));
    CHECK(near(s.p99, 0.100));
    action_report_free(r);
}

static void report_text(void)
{
    action_report *r = report_of_100(NULL);
    gmb_buf out;
    gmb_buf_init(&out, GMB_BUF_UNLIMITED);
    action_report_text(r, 0, &out);
    gmb_buf_put(&out, "", 1);
    const char *t = (const char *)out.data;
    CHECK_CONTAINS(t, "100 actions on hardlinking, fuse: 99 matched, 1 mismatched, 0 failed");
    CHECK_CONTAINS(t, "execution      hardlinking     100     0.0500     0.0900     0.0990    1.00");
    CHECK_CONTAINS(t, "               fuse            100     0.1000     0.1800     0.1980    2.00");
    CHECK_CONTAINS(t, "mismatches (1):");
    CHECK_CONTAINS(t, "    output out differs:");
    char ds[REV2_DIGEST_STR_LEN];
    rev2_digest d;
    digest_of("other", &d);
    CHECK_CONTAINS(t, rev2_digest_str(&d, ds));
    gmb_buf_free(&out);
    action_report_free(r);
}

/* True when Python's json module parses `text`. */
static bool json_parses(const char *text, size_t len)
{
    FILE *p = popen("/usr/bin/python3 -c 'import json,sys; json.load(sys.stdin)'", "w");
    if (!p)
        return false;
    fwrite(text, 1, len, p);
    int st = pclose(p);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void report_json(void)
{
    const char *names[] = {"pool \"a\"", "b\xff"};
    action_report *r = action_report_new(names, 2, NULL);
    fake_response a;
    fake_init(&a, 0, "x", NULL, 1, 2, 3, 4);
    action_run runs[2];
    action_run_from_execute(&runs[0], names[0], NULL, &a.resp);
    rev2_error *e = rev2_error_new(REV2_UNAVAILABLE, "tab\there \"quoted\"\n");
    action_run_from_execute(&runs[1], names[1], e, NULL);
    rev2_error_free(e);
    rev2_digest act;
    digest_of("action", &act);
    CHECK_INT(action_report_add(r, &act, NULL, runs), ACTION_FAILED);
    action_run_free(&runs[0]);
    action_run_free(&runs[1]);
    gmb_buf out;
    gmb_buf_init(&out, GMB_BUF_UNLIMITED);
    action_report_json(r, &out);
    CHECK(json_parses((const char *)out.data, out.len));
    gmb_buf_put(&out, "", 1);
    CHECK_CONTAINS((const char *)out.data, "\"failed\": 1");
    CHECK_CONTAINS((const char *)out.data, "\"pool \\\"a\\\"\"");
    CHECK_CONTAINS((const char *)out.data, "b\\ufffd");
    CHECK_CONTAINS((const char *)out.data, "\"code\": \"UNAVAILABLE\"");
    gmb_buf_free(&out);
    action_report_free(r);

    r = report_of_100(NULL);
    gmb_buf_init(&out, GMB_BUF_UNLIMITED);
    action_report_json(r, &out);
    CHECK(json_parses((const char *)out.data, out.len));
    gmb_buf_put(&out, "", 1);
    CHECK_CONTAINS((const char *)out.data, "\"execution\": {\"n\": 100, \"p50\": 0.050000, \"p90\": 0.090000");
    CHECK_CONTAINS((const char *)out.data, "\"execution\": {\"p50\": 2.0000");
    gmb_buf_free(&out);
    action_report_free(r);
}

int main(void)
{
    RUN(run_from_response);
    RUN(run_from_result);
    RUN(verdict_match);
    RUN(verdict_mismatch);
    RUN(verdict_failed_in_plain_words);
    RUN(report_percentiles);
    RUN(report_skips_cached_phases);
    RUN(report_text);
    RUN(report_json);
    return CHECK_REPORT();
}
