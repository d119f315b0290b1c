# What the library is beyond its sources (src/CMakeLists.txt): the generated
# tensorpool/config.h and the shared library, with its SONAME.

# config.h: what this build has and its version.
foreach(dep CUDA NCCL MPI)
  if(TP_HAVE_${dep})
    set(TP_CONFIG_HAVE_${dep} 1)
  else()
    set(TP_CONFIG_HAVE_${dep} 0)
  endif()
endforeach()
configure_file(${CMAKE_CURRENT_LIST_DIR}/templates/config.h.in
               ${PROJECT_BINARY_DIR}/include/tensorpool/config.h @ONLY)

# Until 1.0 a minor version may change the ABI: the SONAME carries it
# (libtensorpool.so.0.1); from 1.0 on, the major version alone.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(TP_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
else()
  set(TP_SOVERSION ${PROJECT_VERSION_MAJOR})
endif()

if(TP_BUILD_SHARED)
  # The whole static library (objects built position-independent and with
  # hidden visibility) linked into one shared object: no second compile.
  add_library(tensorpool_shared SHARED ${CMAKE_CURRENT_LIST_DIR}/shared_library.c)
  target_link_libraries(tensorpool_shared PRIVATE
    "$<LINK_LIBRARY:WHOLE_ARCHIVE,tensorpool>")
  target_include_directories(tensorpool_shared PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  if(TP_HAVE_MPI)
    # tensorpool/mpi.h includes <mpi.h>.
    target_link_libraries(tensorpool_shared INTERFACE MPI::MPI_C)
  endif()
  # Refuse undefined symbols at link time rather than at a user's load time.
  # (Sanitizer builds leave the runtime's symbols to the program.)
  if(NOT TP_SANITIZE)
    target_link_options(tensorpool_shared PRIVATE LINKER:--no-undefined)
  endif()
  set_target_properties(tensorpool_shared PROPERTIES
    OUTPUT_NAME tensorpool
    LINKER_LANGUAGE C
    VERSION ${PROJECT_VERSION}
    SOVERSION ${TP_SOVERSION}
    EXPORT_NAME tensorpool)
  if(TP_HAVE_CUDA)
    # Found at run time where the toolkit was at build time, also when the
    # loader does not know the toolkit's folder (no ld.so.conf entry).
    set_property(TARGET tensorpool_shared APPEND PROPERTY
                 INSTALL_RPATH ${CUDAToolkit_LIBRARY_DIR})
  endif()
  # The same for NCCL and MPI outside the loader's folders.
  set_target_properties(tensorpool_shared PROPERTIES
                        INSTALL_RPATH_USE_LINK_PATH ON)
  add_library(tensorpool::tensorpool ALIAS tensorpool_shared)
else()
  add_library(tensorpool::tensorpool ALIAS tensorpool)
endif()
set_target_properties(tensorpool PROPERTIES EXPORT_NAME tensorpool_static)
