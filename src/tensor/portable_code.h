/* Internal: numeric code written once and used three ways, so that the
 * host, the library's CUDA kernels and the NVRTC-compiled expression
 * kernels run the very same operations and give the same bits:
 *   - compiled as C11 in the library (the host fills),
 *   - compiled as CUDA C++ by nvcc (the .cu files of kernels/ include them),
 *   - handed as text to NVRTC (the expression kernels cannot include files
 *     of the source tree at run time).
 * A header holding such code defines it as the argument of a macro,
 *   #define TP_SOMETHING_CODE(EMIT) EMIT( ...functions... )
 * and expands TP_SOMETHING_CODE(TP_PORTABLE_EMIT) to compile it here, while
 * TP_SOMETHING_CODE(TP_PORTABLE_TEXT) is the same code as a string literal
 * (the operator # does not expand macros inside it). Rules for such code:
 * no preprocessor lines and no // comments inside it; functions are
 * declared TP_PORTABLE, constant tables TP_PORTABLE_TABLE; bits of a double
 * only through tp_bits_of / tp_double_of; the fixed-width integer types of
 * <stdint.h> only (the NVRTC prelude declares them). */
#ifndef TP_TENSOR_PORTABLE_CODE_H
#define TP_TENSOR_PORTABLE_CODE_H

#include <stdint.h>
#include <string.h>

#define TP_PORTABLE_EMIT(...) __VA_ARGS__
#define TP_PORTABLE_TEXT(...) #__VA_ARGS__

#ifdef __CUDACC__
#define TP_PORTABLE static __host__ __device__ inline
#define TP_PORTABLE_TABLE static __device__ const
#else
#define TP_PORTABLE static inline
#define TP_PORTABLE_TABLE static const
#endif

TP_PORTABLE uint64_t tp_bits_of(double x) {
  uint64_t b;
  memcpy(&b, &x, sizeof b);
  return b;
}

TP_PORTABLE double tp_double_of(uint64_t b) {
  double x;
  memcpy(&x, &b, sizeof x);
  return x;
}

TP_PORTABLE uint32_t tp_bits_of_float(float x) {
  uint32_t b;
  memcpy(&b, &x, sizeof b);
  return b;
}

/* The same names for the NVRTC source (its prelude, before the code). */
#define TP_PORTABLE_NVRTC_PRELUDE                                              \
  "typedef unsigned long long uint64_t;\n"                                     \
  "typedef long long int64_t;\n"                                               \
  "typedef unsigned int uint32_t;\n"                                           \
  "typedef int int32_t;\n"                                                     \
  "typedef unsigned short uint16_t;\n"                                         \
  "typedef short int16_t;\n"                                                   \
  "typedef unsigned char uint8_t;\n"                                           \
  "typedef signed char int8_t;\n"                                              \
  "#define TP_PORTABLE static __device__ inline\n"                             \
  "#define TP_PORTABLE_TABLE static __device__ const\n"                        \
  "TP_PORTABLE uint64_t tp_bits_of(double x) {\n"                              \
  "  return (uint64_t)__double_as_longlong(x);\n"                              \
  "}\n"                                                                        \
  "TP_PORTABLE double tp_double_of(uint64_t b) {\n"                            \
  "  return __longlong_as_double((long long)b);\n"                             \
  "}\n"                                                                        \
  "TP_PORTABLE uint32_t tp_bits_of_float(float x) {\n"                         \
  "  return __float_as_uint(x);\n"                                             \
  "}\n"

#endif
