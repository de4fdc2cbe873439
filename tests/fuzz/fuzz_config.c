/* fuzz_config: the configuration loader (config/config.h) on a fuzzed
 * libconfig file, and the routing rules a loaded file carries.
 *
 * Input: the file's text. It is written to a memory file and loaded by
 * its /proc/self/fd path, over the defaults, as `gomabarn serve --config`
 * does. Texts with "@include" are skipped: an include names any file on
 * the machine (/dev/zero never ends), which is the operator's business,
 * not the parser's. Checked: a failure says where (it starts with the
 * file's name); a success holds only values the schema allows, and its
 * routing rules parse and route. */
#include "fuzz_common.h"

#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "routing.h"

/* libconfig 1.5's scanner leaks the string it was reading when a syntax
 * error interrupts it (an unterminated " \" \"", adjacent literals before
 * a newline): libconfig_yylex, strbuf_append. That is libconfig's, not
 * the loader's (config_destroy is called on every path), so leaks that
 * libconfig allocated are not reported. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libconfig.so\n";
}

static int memfd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    memfd = memfd_create("gomabarn-fuzz-config", MFD_CLOEXEC);
    if (memfd < 0) {
        perror("memfd_create");
        exit(2);
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
    return 0;
}

static void check_loaded(const gmb_config *c)
{
    for (size_t i = 0; i < gmb_config_schema_len; i++) {
        const gmb_config_key *k = &gmb_config_schema[i];
        const char *f = (const char *)c + k->offset;
        switch (k->type) {
        case GMB_CFG_INT: {
            int64_t v = *(const int64_t *)f;
            FUZZ_CHECK(v >= k->min && v <= k->max, "%s = %lld outside [%lld, %lld]", k->path, (long long)v,
                       (long long)k->min, (long long)k->max);
            break;
        }
        case GMB_CFG_STRING:
            FUZZ_CHECK(*(char *const *)f != NULL, "%s is NULL", k->path);
            break;
        case GMB_CFG_LIST: {
            const gmb_strlist *l = (const gmb_strlist *)f;
            for (size_t j = 0; j < l->n; j++)
                FUZZ_CHECK(l->items[j] != NULL, "%s item %zu is NULL", k->path, j);
            break;
        }
        case GMB_CFG_BOOL:
            break;
        }
    }
    FUZZ_CHECK(gmb_instance_name_problem(c->bb_instance_name) == NULL, "a bad instance name was accepted");
    gmb_routes routes;
    char *err = NULL;
    FUZZ_CHECK(gmb_routes_parse(&c->routing_rules, &routes, &err) == 0, "validated rules do not parse: %s", err);
    char *dims[] = {"os:linux", "cpu:x86_64"};
    const gmb_route *r = gmb_routes_match(&routes, "clang", "x86_64-linux-gnu", dims, 2);
    FUZZ_CHECK(!r || gmb_instance_name_problem(r->instance) == NULL, "routed to a bad instance name");
    (void)gmb_routes_match(&routes, NULL, NULL, NULL, 0);
    gmb_routes_free(&routes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && memmem(data, size, "@include", 8))
        return 0;
    if (ftruncate(memfd, 0) < 0 || (size > 0 && pwrite(memfd, data, size, 0) != (ssize_t)size)) {
        perror("fuzz: memfd");
        abort();
    }
    gmb_config c;
    gmb_config_defaults(&c);
    char *err = NULL;
    int rc = gmb_config_load(path, &c, &err);
    if (rc == 0) {
        FUZZ_CHECK(gmb_config_validate(&c, path, &err) == 0, "a loaded file does not validate: %s", err);
        check_loaded(&c);
    } else {
        FUZZ_CHECK(rc == -1 && err, "a failure without a message");
        FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0, "the message does not say where: %s", err);
        free(err);
    }
    gmb_config_free(&c);
    return 0;
}
