/* A user's program: pure C, only the installed public headers, built by
 * each of the three ways (find_package, pkg-config, add_subdirectory). It
 * checks what a user relies on: the version it was compiled with is the one
 * it runs with, and a pool, a runtime, a buffer and a DLPack export work. */
#include <stdio.h>

#include <tensorpool/tensorpool.h>

#define CHECK(call)                                                            \
  do {                                                                         \
    tp_status st_ = (call);                                                    \
    if (st_ != TP_SUCCESS) {                                                   \
      fprintf(stderr, "%s:%d: %s: %s (%s)\n", __FILE__, __LINE__, #call,       \
              tp_status_name(st_), tp_last_error());                           \
      return 1;                                                                \
    }                                                                          \
  } while (0)

int main(void) {
  int major, minor, patch;
  CHECK(tp_get_version(&major, &minor, &patch));
  if (major != TP_VERSION_MAJOR || minor != TP_VERSION_MINOR ||
      patch != TP_VERSION_PATCH) {
    fprintf(stderr, "headers say %s, the library is %d.%d.%d\n",
            TP_VERSION_STRING, major, minor, patch);
    return 1;
  }

  /* A pool over host memory. */
  tp_pool *pool;
  CHECK(tp_pool_create(tp_host_space(), NULL, &pool));
  void *block;
  CHECK(tp_pool_alloc(pool, 1000, NULL, &block));
  CHECK(tp_pool_free(pool, block, NULL));
  CHECK(tp_pool_destroy(pool));

  /* A runtime, a buffer filled by a generator, handed over through DLPack. */
  tp_runtime *rt;
  CHECK(tp_runtime_create(NULL, &rt));
  tp_allocator *host;
  CHECK(tp_runtime_allocator(rt, TP_SPACE_HOST, TP_BUFFER_LOCAL, &host));
  int64_t extents[2] = {4, 5};
  tp_layout layout;
  CHECK(tp_layout_make(TP_DTYPE_F64, 2, extents, &layout));
  tp_generator arange = tp_generator_arange(1.0, 2.0);
  tp_buffer *b;
  CHECK(
      tp_allocator_construct_generator(host, &layout, NULL, &arange, NULL, &b));
  tp_dlpack_managed_tensor_versioned *m;
  CHECK(tp_buffer_to_dlpack(&b, NULL, &m));
  const double *v = m->dl_tensor.data;
  if (v[19] != 39.0) {
    fprintf(stderr, "element 19 is %g, not 39\n", v[19]);
    return 1;
  }
  m->deleter(m);
  CHECK(tp_runtime_destroy(rt));

#if !TP_HAVE_MPI
  /* Without MPI the Fortran-handle entry point still links and says so. */
  tp_runtime *none = NULL;
  tp_status st = tp_runtime_create_mpi_fint(0, NULL, &none);
  if (st != TP_ERR_NOT_SUPPORTED) {
    fprintf(stderr, "tp_runtime_create_mpi_fint without MPI: %s\n",
            tp_status_name(st));
    return 1;
  }
#endif
  int devices = 0;
  CHECK(tp_device_count(&devices));
  printf("tensorpool %d.%d.%d: CUDA=%d NCCL=%d MPI=%d, %d device(s): ok\n",
         major, minor, patch, TP_HAVE_CUDA, TP_HAVE_NCCL, TP_HAVE_MPI, devices);
  return 0;
}
