/* rev2_dir_encode: the bytes of an REv2 Directory message, written by
 * hand. A request's input tree is a few dozen Directory messages and the
 * generic packer (building its structs, walking descriptors) cost more
 * than hashing them. The bytes are exactly protobuf-c's: fields in number
 * order (files, directories, symlinks), proto3 zero values left out; a
 * unit test holds the two to it. */
#ifndef REV2_DIR_ENCODE_H
#define REV2_DIR_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rev2_digest.h"

typedef enum { REV2_DIR_FILE, REV2_DIR_DIRECTORY, REV2_DIR_SYMLINK } rev2_dir_entry_kind;

typedef struct {
    rev2_dir_entry_kind kind;
    const char *name;
    const rev2_digest *digest; /* files and directories */
    bool executable;           /* files */
    const char *target;        /* symlinks */
} rev2_dir_entry;

/* The Directory holding `entries` in the order given (REv2 wants each
 * kind sorted by name). malloc'd, its length in *len. */
uint8_t *rev2_directory_encode(const rev2_dir_entry *entries, size_t n, size_t *len);

#endif
