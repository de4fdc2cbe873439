/* Where client paths land in an input root (toolchain staging included),
 * and which instance name a routing rule picks. */
#include <stdlib.h>

#include "check.h"
#include "exec_paths.h"
#include "routing.h"

#define CHECK_FREE_STR(expr, want) \
    do {                           \
        char *check_s = (expr);    \
        CHECK_STR(check_s, want);  \
        free(check_s);             \
    } while (0)

static void normalize_and_place(void)
{
    CHECK_FREE_STR(exec_path_normalize("/a/./b//c/../d"), "/a/b/d");
    CHECK(exec_path_normalize("/a/../..") == NULL);
    CHECK(exec_path_normalize("a/b") == NULL);
    CHECK_FREE_STR(exec_path_absolute("/w/src", "../inc/x.h"), "/w/inc/x.h");
    CHECK_FREE_STR(exec_path_parent("/a"), "/");
    CHECK(exec_path_is_below("/w/src", "/w"));
    CHECK(!exec_path_is_below("/wx", "/w"));
    /* Below the root: in place. Elsewhere: under .gomabarn-toolchain/. */
    CHECK_FREE_STR(exec_path_place("/w", "/w/src/a.c"), "src/a.c");
    CHECK_FREE_STR(exec_path_place("/w", "/usr/bin/gcc"), ".gomabarn-toolchain/usr/bin/gcc");
    CHECK_FREE_STR(exec_path_place("/w", "/wx/gcc"), ".gomabarn-toolchain/wx/gcc");
}

/* Outputs as REv2 output paths: relative to the client's working
 * directory, climbing with ".." to an absolute one elsewhere. */
static void output_in_cwd(const char *cwd, const char *name, const char *want)
{
    char *got = exec_path_output_in_cwd(cwd, name);
    if (want)
        CHECK_STR(got, want);
    else
        CHECK(got == NULL);
    free(got);
}

static void outputs_relative_to_the_working_directory(void)
{
    output_in_cwd("/p/build", "obj/a.o", "obj/a.o"); /* as sent */
    output_in_cwd("/p/build", "../obj/a.o", "../obj/a.o");
    output_in_cwd("/p/build", "/p/build/obj/a.o", "obj/a.o");
    output_in_cwd("/", "/a.o", "a.o");
    output_in_cwd("/p/build", "/p/a.o", "../a.o");
    output_in_cwd("/p/build", "/p/buildx/a.o", "../buildx/a.o"); /* a sibling */
    output_in_cwd("/p/build", "/q/a.o", "../../q/a.o");
    output_in_cwd("/p/build", "/p/build/./a.o", "a.o"); /* normalized */
    output_in_cwd("/p/build", "/p/build//a.o", "a.o");
    output_in_cwd("/p/build", "/p/build/../build/a.o", "a.o");
    output_in_cwd("/p/build", "/p/build", NULL); /* the directory itself */
    output_in_cwd("/p/build", "/p/build/", NULL);
    output_in_cwd("/p/build", "/p", NULL);  /* holds it */
    output_in_cwd("/p/build", "/..", NULL); /* above "/" */
}

static void gcc_compiler_paths(void)
{
    /* The worker's directories where a relocated driver's missing
     * subprograms are (GCC appends <target>/<version>/ itself). */
    CHECK_FREE_STR(exec_path_gcc_compiler_path("/usr/bin/x86_64-linux-gnu-gcc-12"), "/usr/libexec/gcc:/usr/lib/gcc");
    CHECK_FREE_STR(exec_path_gcc_compiler_path("/opt/gcc-13/bin/gcc"), "/opt/gcc-13/libexec/gcc:/opt/gcc-13/lib/gcc");
    CHECK_FREE_STR(exec_path_gcc_compiler_path("/bin/gcc"), "/libexec/gcc:/lib/gcc");
}

static void relative_paths(void)
{
    CHECK_FREE_STR(exec_path_relative("src", ".gomabarn-toolchain/usr/bin/gcc"), "../.gomabarn-toolchain/usr/bin/gcc");
    CHECK_FREE_STR(exec_path_relative("", "a/b"), "a/b");
    CHECK_FREE_STR(exec_path_relative("a/b", "a/bc/d"), "../bc/d");
    CHECK_FREE_STR(exec_path_relative("a/b", "a/b/c"), "c");
    CHECK_FREE_STR(exec_path_relative("a/b/c", "a/b"), "..");
    CHECK_FREE_STR(exec_path_relative("a", "a"), ".");
}

static void symlink_targets_stay_inside_the_root(void)
{
    /* /usr/bin/gcc -> gcc-12, both moved: unchanged. */
    CHECK_FREE_STR(exec_path_symlink_target("/w", "/usr/bin/gcc", "gcc-12"), "gcc-12");
    /* An absolute target becomes relative to the moved link. */
    CHECK_FREE_STR(exec_path_symlink_target("/w", "/usr/bin/cc", "/usr/bin/gcc"), "gcc");
    CHECK_FREE_STR(exec_path_symlink_target("/w", "/usr/bin/cc", "/etc/alternatives/cc"), "../../etc/alternatives/cc");
    /* A link inside the root to a file outside it. */
    CHECK_FREE_STR(exec_path_symlink_target("/w", "/w/tc/cc", "/usr/bin/gcc"), "../.gomabarn-toolchain/usr/bin/gcc");
    CHECK_FREE_STR(exec_path_symlink_target("/w", "/w/tc/cc", "../../usr/bin/gcc"),
                   "../.gomabarn-toolchain/usr/bin/gcc");
    CHECK(exec_path_symlink_target("/w", "/w/cc", "../../../..") == NULL);
}

static void routing_picks_the_first_matching_rule(void)
{
    char *items[] = {"compiler=clang* target=aarch64-* -> arm", "compiler=clang* -> fuse",
                     "dimension=os:linux -> hardlinking", "compiler=tcc -> \"\"", NULL};
    gmb_strlist rules = {items, 4};
    gmb_routes r;
    char *err = NULL;
    CHECK_INT(gmb_routes_parse(&rules, &r, &err), 0);
    char *linux_dims[] = {"os:linux", "cpu:x86-64"};
    const gmb_route *m = gmb_routes_match(&r, "clang++", "aarch64-linux-gnu", NULL, 0);
    CHECK_STR(m ? m->instance : NULL, "arm");
    m = gmb_routes_match(&r, "clang", "x86_64-linux-gnu", NULL, 0);
    CHECK_STR(m ? m->instance : NULL, "fuse");
    m = gmb_routes_match(&r, "gcc", NULL, linux_dims, 2);
    CHECK_STR(m ? m->instance : NULL, "hardlinking");
    m = gmb_routes_match(&r, "tcc", NULL, NULL, 0);
    CHECK_STR(m ? m->instance : NULL, ""); /* empty stays empty, never "." */
    CHECK(gmb_routes_match(&r, "gcc", NULL, NULL, 0) == NULL);
    CHECK(gmb_routes_match(&r, NULL, NULL, NULL, 0) == NULL);
    gmb_routes_free(&r);

    char *bad[] = {"compiler=gcc ->", NULL};
    gmb_strlist bad_rules = {bad, 1};
    CHECK_INT(gmb_routes_parse(&bad_rules, &r, &err), -1);
    CHECK_CONTAINS(err, "write \"\" for the empty instance name");
    free(err);
    char *none[] = {" -> fuse", NULL};
    gmb_strlist none_rules = {none, 1};
    CHECK_INT(gmb_routes_parse(&none_rules, &r, &err), -1);
    CHECK_CONTAINS(err, "has no condition");
    free(err);
}

static void routing_rules_can_shadow_a_share(void)
{
    char *items[] = {"compiler=gcc* -> hardlinking shadow fuse 12.5%", "compiler=clang -> fuse shadow hardlinking",
                     "compiler=tcc -> \"\" shadow fuse", NULL};
    gmb_strlist rules = {items, 3};
    gmb_routes r;
    char *err = NULL;
    CHECK_INT(gmb_routes_parse(&rules, &r, &err), 0);
    const gmb_route *m = gmb_routes_match(&r, "gcc-12", NULL, NULL, 0);
    CHECK_STR(m ? m->instance : NULL, "hardlinking");
    CHECK_STR(m ? m->shadow : NULL, "fuse");
    CHECK(m && m->shadow_share > 0.1249 && m->shadow_share < 0.1251);
    m = gmb_routes_match(&r, "clang", NULL, NULL, 0);
    CHECK_STR(m ? m->shadow : NULL, "hardlinking");
    CHECK(m && m->shadow_share == 1.0);
    m = gmb_routes_match(&r, "tcc", NULL, NULL, 0);
    CHECK_STR(m ? m->instance : NULL, "");
    CHECK_STR(m ? m->shadow : NULL, "fuse");
    gmb_routes_free(&r);

    static const struct {
        const char *rule, *why;
    } bad[] = {
        {"compiler=gcc -> fuse shadow", "has no shadow instance name"},
        {"compiler=gcc -> fuse shadow hardlinking 0%", "is not a percentage in (0, 100]"},
        {"compiler=gcc -> fuse shadow hardlinking 150%", "is not a percentage"},
        {"compiler=gcc -> fuse shadow hardlinking ten", "is not a percentage"},
        {"compiler=gcc -> fuse shadow fuse", "shadows instance name \"fuse\" on itself"},
        {"compiler=gcc -> fuse shadow /x", "has a leading, trailing or double '/'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *one[] = {(char *)bad[i].rule, NULL};
        gmb_strlist l = {one, 1};
        CHECK_INT(gmb_routes_parse(&l, &r, &err), -1);
        CHECK_CONTAINS(err, bad[i].why);
        free(err);
    }

    char *name = NULL;
    double share = 0;
    CHECK_INT(gmb_shadow_parse(" fuse 5% ", &name, &share, &err), 0);
    CHECK_STR(name, "fuse");
    CHECK(share > 0.0499 && share < 0.0501);
    free(name);
    CHECK_INT(gmb_shadow_parse("fuse 5", &name, &share, &err), -1);
    free(err);
}

int main(void)
{
    RUN(normalize_and_place);
    RUN(routing_rules_can_shadow_a_share);
    RUN(relative_paths);
    RUN(outputs_relative_to_the_working_directory);
    RUN(gcc_compiler_paths);
    RUN(symlink_targets_stay_inside_the_root);
    RUN(routing_picks_the_first_matching_rule);
    return CHECK_REPORT();
}
