# cmake --install: headers, the static and shared libraries, the CMake
# package (tensorpoolConfig.cmake, tensorpoolConfigVersion.cmake,
# tensorpoolTargets.cmake, FindNCCL.cmake) and tensorpool.pc.
include(CMakePackageConfigHelpers)

set(TP_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/tensorpool)

# Headers: tensorpool/mpi.h only in MPI builds (it needs <mpi.h>).
file(GLOB tp_public_headers ${PROJECT_SOURCE_DIR}/include/tensorpool/*.h)
if(NOT TP_HAVE_MPI)
  list(REMOVE_ITEM tp_public_headers
       ${PROJECT_SOURCE_DIR}/include/tensorpool/mpi.h)
endif()
install(FILES ${tp_public_headers}
              ${PROJECT_BINARY_DIR}/include/tensorpool/config.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tensorpool
        COMPONENT devel)

set(tp_install_targets tensorpool)
if(TP_BUILD_SHARED)
  list(APPEND tp_install_targets tensorpool_shared)
endif()
install(TARGETS ${tp_install_targets} EXPORT tensorpoolTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT devel
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
                NAMELINK_COMPONENT devel)
install(EXPORT tensorpoolTargets NAMESPACE tensorpool::
        DESTINATION ${TP_CMAKE_DIR} COMPONENT devel)

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/templates/tensorpoolConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tensorpoolConfig.cmake
  INSTALL_DESTINATION ${TP_CMAKE_DIR})
# 0.x: a minor version may break the API, so only the same minor matches.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(tp_compatibility SameMinorVersion)
else()
  set(tp_compatibility SameMajorVersion)
endif()
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/tensorpoolConfigVersion.cmake
  COMPATIBILITY ${tp_compatibility})
install(FILES ${PROJECT_BINARY_DIR}/tensorpoolConfig.cmake
              ${PROJECT_BINARY_DIR}/tensorpoolConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/modules/FindNCCL.cmake
        DESTINATION ${TP_CMAKE_DIR} COMPONENT devel)

# pkg-config. `pkg-config --libs tensorpool` links the shared library, which
# brings its own dependencies; `--static` adds what the archive needs.
set(TP_PC_LIBS_PRIVATE "-lm -pthread")
set(TP_PC_REQUIRES_PRIVATE "")
set(TP_PC_CFLAGS "")
if(TP_HAVE_CUDA)
  # The toolkit's .pc files are versioned (cudart-13.0), so name its folder.
  string(APPEND TP_PC_LIBS_PRIVATE
         " -L${CUDAToolkit_LIBRARY_DIR} -lcudart -lnvrtc -lstdc++")
endif()
if(TP_HAVE_NCCL)
  get_filename_component(tp_nccl_dir ${NCCL_LIBRARY} DIRECTORY)
  string(APPEND TP_PC_LIBS_PRIVATE " -L${tp_nccl_dir} -lnccl")
endif()
if(TP_HAVE_MPI)
  # Open MPI ships ompi-c.pc, MPICH mpich.pc; CMake's figures otherwise.
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(TP_PC_MPI QUIET ompi-c)
    if(TP_PC_MPI_FOUND)
      set(TP_PC_REQUIRES_PRIVATE "ompi-c")
    else()
      pkg_check_modules(TP_PC_MPI QUIET mpich)
      if(TP_PC_MPI_FOUND)
        set(TP_PC_REQUIRES_PRIVATE "mpich")
      endif()
    endif()
  endif()
  if(NOT TP_PC_REQUIRES_PRIVATE)
    foreach(dir ${MPI_C_INCLUDE_DIRS})
      string(APPEND TP_PC_CFLAGS " -I${dir}")
    endforeach()
    foreach(lib ${MPI_C_LIBRARIES})
      string(APPEND TP_PC_LIBS_PRIVATE " ${lib}")
    endforeach()
  endif()
endif()
# Relocatable: the prefix is found from where the .pc file lies, so that
# `cmake --install --prefix <anywhere>` gives a correct file.
file(RELATIVE_PATH TP_PC_TO_PREFIX
     /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" TP_PC_TO_PREFIX "${TP_PC_TO_PREFIX}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/templates/tensorpool.pc.in
               ${PROJECT_BINARY_DIR}/tensorpool.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/tensorpool.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT devel)
