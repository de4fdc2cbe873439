/* cc_args: gomabarn-cc's reading of a compiler command line: whether it
 * is one compile of one source (else it runs locally), the argv to send,
 * the output and the dependency file; and the inputs, from the compiler's
 * own dependency output (-M). */
#ifndef CC_ARGS_H
#define CC_ARGS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char **remote; /* argv sent to the worker (no dep-file options) */
    size_t n_remote;
    const char *source, *output;
    const char *dep_file;  /* -MD/-MMD target file, or NULL */
    bool dep_user_only;    /* -MMD */
    bool dep_wanted;       /* -MD or -MMD: the compiler writes dep_file */
    bool dep_target_given; /* -MT or -MQ */
    char *owned[2];        /* names we made up (default output, dep file) */
} compile_args;

/* False if this is not one compile of one source (then: run locally). */
bool cc_args_parse(int argc, char **argv, compile_args *c);
void cc_args_free(compile_args *c);
/* Runs the preprocessor for the dependency list; returns the make-rule
 * text (malloc'd) or NULL. */
char *cc_args_dependencies(const compile_args *c);
/* The files named in a make rule "target: a b \\\n c" (malloc'd). */
char **cc_rule_files(const char *rule, size_t *n);

/* Racing a local compile against the remote one (cc_local.h) needs every
 * file the compiler writes redirected to a temporary name. NULL if argv
 * allows that, else why not (a static sentence): options that write more
 * files than -o and the dependency file, response files, joined -oFILE. */
const char *cc_args_race_refusal(int argc, char **argv);
/* argv (NULL-terminated, malloc'd; strings borrowed) with -o pointing at
 * tmp_out and, when the compiler writes a dependency file, -MF at tmp_dep
 * and the rule's target kept as the real output's name. */
char **cc_args_racer_argv(int argc, char **argv, const compile_args *c, const char *tmp_out, const char *tmp_dep);

#endif
