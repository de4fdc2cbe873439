/* fuzz_store: a content store for a fuzz target's run (no remote: a blob
 * not put there is simply missing), in a fresh directory under $TMPDIR
 * (or /tmp) that is removed at exit. Used by the view targets
 * (fuzz_view.h) and goma_files. */
#ifndef GMB_FUZZ_STORE_H
#define GMB_FUZZ_STORE_H

#include "cas_store.h"
#include "errmsg.h"
#include "fuzz_common.h"

static cas_store *fuzz_store;
static char fuzz_store_dir[4096]; /* the run's directory; the store is its store/ */

static inline void fuzz_store_open(void)
{
    char *store_dir = gmb_format("%s/store", fuzz_store_dir);
    cas_store_options so = {.dir = store_dir, .max_bytes = (uint64_t)256 << 20};
    char *err = NULL;
    fuzz_store = cas_store_open(&so, NULL, &err);
    if (!fuzz_store) {
        fprintf(stderr, "fuzz: cannot open the store: %s\n", err);
        exit(2);
    }
    free(store_dir);
}

/* Closes the store and removes `what` under the run's directory ("" for
 * all of it). */
static inline void fuzz_store_remove(const char *what)
{
    if (fuzz_store)
        cas_store_close(fuzz_store);
    fuzz_store = NULL;
    char *rm = gmb_format("rm -rf '%s/%s'", fuzz_store_dir, what);
    if (system(rm) != 0)
        fprintf(stderr, "fuzz: could not remove %s/%s\n", fuzz_store_dir, what);
    free(rm);
}

static inline void fuzz_store_cleanup(void)
{
    fuzz_store_remove("");
}

/* The run's store, in gomabarn-fuzz-<name>-XXXXXX; logs quieted. */
static inline void fuzz_store_init(const char *name)
{
    fuzz_quiet_logs();
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(fuzz_store_dir, sizeof fuzz_store_dir, "%s/gomabarn-fuzz-%s-XXXXXX", tmp, name);
    if (!mkdtemp(fuzz_store_dir)) {
        perror("fuzz: mkdtemp");
        exit(2);
    }
    fuzz_store_open();
    atexit(fuzz_store_cleanup);
}

/* An empty store again (the old one's blobs removed from disk). */
static inline void fuzz_store_reset(void)
{
    fuzz_store_remove("store");
    fuzz_store_open();
}

#endif
