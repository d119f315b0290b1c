/* Internal: the library's host memory copy (memmove semantics). */
#ifndef TP_CORE_BYTE_COPY_H
#define TP_CORE_BYTE_COPY_H

#include <stddef.h>

/* Copies `bytes` from `src` to `dst` (which may overlap) as memmove does,
 * but avoids glibc's `rep movsb` where it is slowest: a destination 1 to
 * 63 bytes past the source modulo 4 KiB. Tiles of uneven tilings land at
 * any element offset, so a tile copied into its place in a gathered tensor
 * meets that case for one alignment in 64; see byte_copy.c. */
void tp_copy_bytes(void *dst, const void *src, size_t bytes);

#endif
