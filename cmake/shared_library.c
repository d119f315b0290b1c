/* The shared library's own translation unit: CMake wants one source per
 * library, and everything else comes in whole from the static library
 * (cmake/library.cmake). ISO C wants a declaration in every unit. */
typedef int tp_shared_library_unit;
