# FindNCCL: NCCL's header and library, as the imported target NCCL::NCCL.
# Installed with tensorpool's package so that find_dependency(NCCL) works
# for its users. Looks next to the CUDA toolkit, under NCCL_ROOT, and in the
# usual prefixes; NCCL's pip wheel ships libnccl.so.2 alone, so that name is
# accepted too. Sets NCCL_FOUND, NCCL_INCLUDE_DIR, NCCL_LIBRARY.

if(NOT CUDAToolkit_FOUND)
  find_package(CUDAToolkit QUIET)
endif()

find_path(NCCL_INCLUDE_DIR nccl.h
          HINTS ${NCCL_ROOT} $ENV{NCCL_ROOT} ${CUDAToolkit_INCLUDE_DIRS}
          PATH_SUFFIXES include)
find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2
             HINTS ${NCCL_ROOT} $ENV{NCCL_ROOT} ${CUDAToolkit_LIBRARY_DIR}
             PATH_SUFFIXES lib lib64)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(NCCL
  REQUIRED_VARS NCCL_LIBRARY NCCL_INCLUDE_DIR)

if(NCCL_FOUND AND NOT TARGET NCCL::NCCL)
  add_library(NCCL::NCCL UNKNOWN IMPORTED)
  # Imported include folders are system folders: nccl.h's own prototypes
  # (ncclGroupStart() without void) do not trip the project's warnings.
  set_target_properties(NCCL::NCCL PROPERTIES
    IMPORTED_LOCATION "${NCCL_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${NCCL_INCLUDE_DIR}")
endif()
mark_as_advanced(NCCL_INCLUDE_DIR NCCL_LIBRARY)
