/* Everything tensorpool declares, in one include. tensorpool/mpi.h (MPI
 * builds only: it needs <mpi.h>) is left out; include it on its own, or use
 * the MPI_Fint entry points of tensorpool/mpi_fint.h, present in every
 * build. */
#ifndef TENSORPOOL_TENSORPOOL_H
#define TENSORPOOL_TENSORPOOL_H

#include "tensorpool/config.h"

#include "tensorpool/allocator.h"
#include "tensorpool/buffer.h"
#include "tensorpool/device.h"
#include "tensorpool/device_fill.h"
#include "tensorpool/dlpack.h"
#include "tensorpool/expression.h"
#include "tensorpool/generator.h"
#include "tensorpool/layout.h"
#include "tensorpool/mpi_fint.h"
#include "tensorpool/ops.h"
#include "tensorpool/pool.h"
#include "tensorpool/raw_allocator.h"
#include "tensorpool/runtime.h"
#include "tensorpool/space.h"
#include "tensorpool/status.h"
#include "tensorpool/version.h"

#endif
