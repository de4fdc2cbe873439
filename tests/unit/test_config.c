/* Configuration: defaults, unknown keys and wrong types with file:line. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

static char *write_config(const char *text)
{
    char *path = strdup("/tmp/gmb-config-XXXXXX");
    int fd = mkstemp(path);
    if (write(fd, text, strlen(text)) < 0)
        abort();
    close(fd);
    return path;
}

static int load(const char *text, gmb_config *c, char **err)
{
    char *path = write_config(text);
    gmb_config_defaults(c);
    int rc = gmb_config_load(path, c, err);
    unlink(path);
    free(path);
    return rc;
}

static void defaults_are_the_reference_cluster(void)
{
    gmb_config c;
    gmb_config_defaults(&c);
    CHECK_STR(c.bb_target, "127.0.0.1:8980");
    CHECK_STR(c.bb_instance_name, "hardlinking");
    CHECK_INT(c.bb_retry_max_attempts, 5);
    CHECK(!c.bb_tls);
    gmb_config_free(&c);
}

static void reads_values(void)
{
    gmb_config c;
    char *err = NULL;
    CHECK_INT(load("buildbarn = {\n  target = \"unix:/run/bb.sock\";\n  instance_name = \"\";\n"
                   "  retry = { max_attempts = 2; };\n};\nlog = { level = \"debug\"; };\n",
                   &c, &err),
              0);
    CHECK_STR(c.bb_target, "unix:/run/bb.sock");
    CHECK_STR(c.bb_instance_name, ""); /* empty stays empty */
    CHECK_INT(c.bb_retry_max_attempts, 2);
    CHECK_STR(c.log_level, "debug");
    gmb_config_free(&c);
}

static void unknown_key_names_file_and_line(void)
{
    gmb_config c;
    char *err = NULL;
    CHECK_INT(load("buildbarn = {\n  target = \"x:1\";\n  tagret = \"y:2\";\n};\n", &c, &err), -1);
    CHECK_CONTAINS(err, ":3: unknown key \"buildbarn.tagret\"");
    free(err);
    gmb_config_free(&c);
    CHECK_INT(load("\nbuildbar = { target = \"x:1\"; };\n", &c, &err), -1);
    CHECK_CONTAINS(err, ":2: unknown section \"buildbar\"");
    free(err);
    gmb_config_free(&c);
}

static void wrong_type_and_range(void)
{
    gmb_config c;
    char *err = NULL;
    CHECK_INT(load("buildbarn = { threads = \"two\"; };\n", &c, &err), -1);
    CHECK_CONTAINS(err, ":1: buildbarn.threads must be an integer");
    free(err);
    gmb_config_free(&c);
    CHECK_INT(load("buildbarn = {\n threads = 1000;\n};\n", &c, &err), -1);
    CHECK_CONTAINS(err, ":2: buildbarn.threads = 1000 is out of range");
    free(err);
    gmb_config_free(&c);
}

static void large_numbers_need_the_l_suffix(void)
{
    gmb_config c;
    char *err = NULL;
    CHECK_INT(load("cache = {\n  max_bytes = 10737418240;\n};\n", &c, &err), -1);
    CHECK_CONTAINS(err, ":2: cache.max_bytes: numbers beyond 2147483647 need an L suffix");
    free(err);
    gmb_config_free(&c);
    CHECK_INT(load("cache = { max_bytes = 10737418240L; };\n", &c, &err), 0);
    CHECK_INT(c.cache_max_bytes, 10737418240LL);
    gmb_config_free(&c);
}

static void example_config_loads(void)
{
    gmb_config c;
    gmb_config_defaults(&c);
    char *err = NULL;
    CHECK_INT(gmb_config_load(GMB_EXAMPLE_CONFIG, &c, &err), 0);
    if (err)
        fprintf(stderr, "  %s\n", err);
    CHECK_STR(c.platform_os_family, "linux");
    CHECK_INT(c.cache_max_bytes, 10737418240LL);
    gmb_config_free(&c);
}

static void syntax_error_and_relations(void)
{
    gmb_config c;
    char *err = NULL;
    CHECK_INT(load("buildbarn = { target = \"x:1\" \n", &c, &err), -1);
    CHECK(err && strstr(err, "/tmp/gmb-config-") == err);
    free(err);
    gmb_config_free(&c);
    CHECK_INT(load("buildbarn = { tls_ca_file = \"/x.pem\"; };\n", &c, &err), -1);
    CHECK_CONTAINS(err, "buildbarn.tls is false");
    free(err);
    gmb_config_free(&c);
    CHECK_INT(load("buildbarn = { instance_name = \"fuse//x\"; };\n", &c, &err), -1);
    CHECK_CONTAINS(err, "double '/'");
    free(err);
    gmb_config_free(&c);
    gmb_config_defaults(&c);
    CHECK_INT(gmb_config_load("/nonexistent/gomabarn.conf", &c, &err), -1);
    CHECK_CONTAINS(err, "cannot read");
    free(err);
    gmb_config_free(&c);
}

static void lists_and_routing_rules(void)
{
    gmb_config c;
    char *err = NULL;
    gmb_config_defaults(&c);
    CHECK_INT(c.exec_env_allow.n, 5);
    CHECK_STR(c.exec_env_allow.items[2], "LC_*");
    CHECK_INT(c.routing_rules.n, 0);
    gmb_config_free(&c);
    CHECK_INT(load("exec = { env_allow = [\"FOO\"]; };\nrouting = { rules = [\"compiler=clang* -> fuse\", "
                   "\"dimension=os:linux target=x86_64-* -> \\\"\\\"\"]; };\n",
                   &c, &err),
              0);
    CHECK_INT(c.exec_env_allow.n, 1);
    CHECK_STR(c.exec_env_allow.items[0], "FOO");
    CHECK_INT(c.routing_rules.n, 2);
    CHECK_STR(c.routing_rules.items[1], "dimension=os:linux target=x86_64-* -> \"\"");
    gmb_config_free(&c);
    CHECK_INT(load("exec = { env_allow = \"FOO\"; };\n", &c, &err), -1);
    CHECK_CONTAINS(err, ":1: exec.env_allow must be a list of strings");
    free(err);
    gmb_config_free(&c);
    CHECK_INT(load("exec = { env_allow = [1, 2]; };\n", &c, &err), -1);
    CHECK_CONTAINS(err, "item 1 is not a string");
    free(err);
    gmb_config_free(&c);
    CHECK_INT(load("routing = { rules = [\"compiler=gcc fuse\"]; };\n", &c, &err), -1);
    CHECK_CONTAINS(err, "routing.rules item 1 \"compiler=gcc fuse\" has no \"-> INSTANCE\"");
    free(err);
    gmb_config_free(&c);
    CHECK_INT(load("routing = { rules = [\"compiler=gcc -> fuse\", \"os=linux -> fuse\"]; };\n", &c, &err), -1);
    CHECK_CONTAINS(err, "item 2 \"os=linux -> fuse\" unknown key \"os\"");
    free(err);
    gmb_config_free(&c);
    CHECK_INT(load("routing = { rules = [\"compiler=gcc -> /fuse\"]; };\n", &c, &err), -1);
    CHECK_CONTAINS(err, "leading, trailing or double '/'");
    free(err);
    gmb_config_free(&c);
    CHECK_INT(load("exec = { root = \"src\"; };\n", &c, &err), -1);
    CHECK_CONTAINS(err, "exec.root \"src\" must be an absolute");
    free(err);
    gmb_config_free(&c);
}

int main(void)
{
    RUN(defaults_are_the_reference_cluster);
    RUN(reads_values);
    RUN(unknown_key_names_file_and_line);
    RUN(wrong_type_and_range);
    RUN(large_numbers_need_the_l_suffix);
    RUN(example_config_loads);
    RUN(syntax_error_and_relations);
    RUN(lists_and_routing_rules);
    return CHECK_REPORT();
}
