# Finds CUDA, NCCL and MPI according to TP_WITH_*; sets TP_HAVE_* to ON/OFF.

list(APPEND CMAKE_MODULE_PATH ${CMAKE_CURRENT_LIST_DIR}/modules)

function(tp_resolve_option name found)
  if(${name} STREQUAL "ON" AND NOT ${found})
    message(FATAL_ERROR "${name}=ON but it was not found")
  endif()
endfunction()

# CUDA: the toolkit compiles device code; no GPU is needed to build.
set(TP_HAVE_CUDA OFF)
if(NOT TP_WITH_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      # Hopper (H100/H200) is the target of this project's GPU runs.
      set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    # One CUDA runtime, the shared one: the library links CUDA::cudart, and
    # CMake's default (Static) would add cudart_static to every program that
    # links the library, a second runtime with its own state.
    set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)
    find_package(CUDAToolkit REQUIRED)
    # CMake keeps nvcc's implicit link folders, the toolkit's library folder
    # among them, out of RPATHs: programs would then find libcudart only
    # where the loader already knows the toolkit (ld.so.conf). Name it.
    list(APPEND CMAKE_BUILD_RPATH ${CUDAToolkit_LIBRARY_DIR})
    set(TP_HAVE_CUDA ON)
  endif()
endif()
tp_resolve_option(TP_WITH_CUDA TP_HAVE_CUDA)

set(TP_HAVE_NCCL OFF)
if(TP_HAVE_CUDA AND NOT TP_WITH_NCCL STREQUAL "OFF")
  # cmake/modules/FindNCCL.cmake (installed with the package): NCCL::NCCL.
  find_package(NCCL QUIET)
  if(NCCL_FOUND)
    set(TP_HAVE_NCCL ON)
    set(TP_NCCL_INCLUDE_DIR ${NCCL_INCLUDE_DIR})
    set(TP_NCCL_LIBRARY ${NCCL_LIBRARY})
  endif()
endif()
tp_resolve_option(TP_WITH_NCCL TP_HAVE_NCCL)

set(TP_HAVE_MPI OFF)
if(NOT TP_WITH_MPI STREQUAL "OFF")
  find_package(MPI COMPONENTS C QUIET)
  if(MPI_C_FOUND)
    set(TP_HAVE_MPI ON)
  endif()
endif()
tp_resolve_option(TP_WITH_MPI TP_HAVE_MPI)

find_package(Threads REQUIRED)
