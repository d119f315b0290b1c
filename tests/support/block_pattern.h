/* Byte patterns derived from a block's id: written over a block's whole
 * requested range when it is allocated and checked before it is freed, so a
 * block that was handed out twice, overlapped or scribbled on shows up as a
 * wrong byte at a known offset. */
#ifndef TP_TEST_BLOCK_PATTERN_H
#define TP_TEST_BLOCK_PATTERN_H

#include <stddef.h>
#include <stdint.h>

void tp_pattern_fill(void *ptr, size_t bytes, uint64_t id);
/* Offset of the first wrong byte, or `bytes` if every byte is right. */
size_t tp_pattern_check(const void *ptr, size_t bytes, uint64_t id);

#endif
