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
    const char *dep_file; /* -MD/-MMD target file, or NULL */
    bool dep_user_only;   /* -MMD */
    char *owned[2];       /* names we made up (default output, dep file) */
} compile_args;

/* False if this is not one compile of one source (then: run locally). */
bool cc_args_parse(int argc, char **argv, compile_args *c);
void cc_args_free(compile_args *c);
/* Runs the preprocessor for the dependency list; returns the make-rule
 * text (malloc'd) or NULL. */
char *cc_args_dependencies(const compile_args *c);
/* The files named in a make rule "target: a b \\\n c" (malloc'd). */
char **cc_rule_files(const char *rule, size_t *n);

#endif
