/* Internal: the caller's versioned structs.
 *
 * Every public struct that crosses the library's ABI (configurations,
 * caller-allocated outputs, tables a user fills in) starts with
 * `size_t struct_size`, which its *_INIT macro sets to the size the caller
 * was compiled with. The library reads and writes only the bytes that size
 * covers, so a program built against an older header keeps working when a
 * later version appends fields. */
#ifndef TP_CORE_VERSIONED_H
#define TP_CORE_VERSIONED_H

#include <stddef.h>

#include "tensorpool/status.h"

/* Reads the caller's struct `src` into `dst`, which already holds the
 * defaults of every field: the first min(src->struct_size, dst_size)
 * bytes are copied, and dst's struct_size becomes dst_size. `fn` and
 * `init` (the INIT macro's name) go into the message when src's
 * struct_size is too small to be one (e.g. 0: not initialized). */
tp_status tp_versioned_read(const char *fn, const char *init, const void *src,
                            void *dst, size_t dst_size);

/* Whether the caller's output struct `s` has a struct_size that can be
 * one (TP_ERR_INVALID_ARGUMENT naming `init` otherwise): for functions that
 * check their arguments before anything else and write `s` at the end. */
tp_status tp_versioned_check(const char *fn, const char *init, const void *s);

/* Writes the library's struct `src` (src_size bytes) into the caller's
 * `dst`: only the first dst->struct_size bytes, keeping dst's struct_size. */
tp_status tp_versioned_write(const char *fn, const char *init, void *dst,
                             const void *src, size_t src_size);

#endif
