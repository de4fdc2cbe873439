/* The once-a-minute Exec summary (exec_activity.h), on a clock the test
 * moves: no line before the period is over, one line with the counts
 * then, nothing for a quiet period, and the rest at flush. The lines are
 * read back from stderr, where the log writes them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "exec_activity.h"
#include "log.h"

static int saved_stderr = -1;
static FILE *capture;

static void capture_start(void)
{
    fflush(stderr);
    capture = tmpfile();
    CHECK(capture != NULL);
    saved_stderr = dup(2);
    dup2(fileno(capture), 2);
}

/* What the log wrote since capture_start (malloc'd). */
static char *capture_end(void)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    long n = ftell(capture);
    char *text = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
    rewind(capture);
    if (n > 0 && fread(text, 1, (size_t)n, capture) != (size_t)n)
        text[0] = '\0';
    fclose(capture);
    return text;
}

static int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

static void one_line_a_period_with_the_counts(void)
{
    exec_activity a;
    int64_t t = 1000000;
    exec_activity_init(&a, t);
    capture_start();
    for (int i = 0; i < 5; i++)
        exec_activity_note(&a, "done", true, t + i);
    exec_activity_note(&a, "done", false, t + 10);
    exec_activity_note(&a, "missing", false, t + 20);
    exec_activity_note(&a, "running", false, t + 30); /* not an answer */
    char *early = capture_end();
    CHECK_STR(early, ""); /* the period is not over */
    free(early);

    capture_start();
    exec_activity_note(&a, "failed", false, t + EXEC_ACTIVITY_PERIOD_MS);
    exec_activity_note(&a, "bad", false, t + EXEC_ACTIVITY_PERIOD_MS + 1); /* in the next line */
    char *line = capture_end();
    CHECK_INT(count_lines(line), 1);
    CHECK(strstr(line, " INFO  exec: last 60 s: 8 answers: 5 action-cache hits, 1 executed, 1 missing-input rounds, 1 "
                       "failed, 0 bad requests\n") != NULL);
    free(line);

    /* Quiet: nothing to say, however long. */
    capture_start();
    exec_activity_flush(&a, t + 5 * EXEC_ACTIVITY_PERIOD_MS);
    char *rest = capture_end();
    CHECK_INT(count_lines(rest), 1); /* the bad request left over */
    CHECK(strstr(rest, "1 answers: 0 action-cache hits, 0 executed, 0 missing-input rounds, 0 failed, 1 bad") != NULL);
    free(rest);
    capture_start();
    exec_activity_flush(&a, t + 6 * EXEC_ACTIVITY_PERIOD_MS);
    exec_activity_note(&a, "done", true, t + 6 * EXEC_ACTIVITY_PERIOD_MS + 1);
    char *quiet = capture_end();
    CHECK_STR(quiet, "");
    free(quiet);
}

int main(void)
{
    gmb_log_set_level(GMB_LOG_INFO);
    RUN(one_line_a_period_with_the_counts);
    return CHECK_REPORT();
}
