/* Internal: the host space's segments as reserved address ranges (mmap),
 * committed as they grow, with free pages given back by madvise. */
#ifndef TP_HOST_HOST_VM_H
#define TP_HOST_HOST_VM_H

#include <stddef.h>

#include "tensorpool/space.h"

/* The page size the host space reports (page_bytes). */
size_t tp_host_vm_page(void);
tp_status tp_host_vm_get(void *ctx, size_t bytes, void **out);
tp_status tp_host_vm_put(void *ctx, void *ptr, size_t bytes, tp_stream stream);
tp_status tp_host_vm_resize(void *ctx, void *ptr, size_t bytes,
                            size_t new_bytes, tp_stream stream);
tp_status tp_host_vm_decommit(void *ctx, void *ptr, size_t bytes,
                              tp_stream stream);

#endif
