/* Linkage of the public API.
 *
 * Every public header wraps its declarations in TP_BEGIN_DECLS /
 * TP_END_DECLS: C linkage for C++ callers, and default visibility, so that
 * the library, built with hidden visibility, exports exactly the functions
 * its public headers declare (its internal functions stay private to it). */
#ifndef TENSORPOOL_EXPORT_H
#define TENSORPOOL_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define TP_VISIBILITY_PUSH _Pragma("GCC visibility push(default)")
#define TP_VISIBILITY_POP _Pragma("GCC visibility pop")
#else
#define TP_VISIBILITY_PUSH
#define TP_VISIBILITY_POP
#endif

#ifdef __cplusplus
#define TP_BEGIN_DECLS TP_VISIBILITY_PUSH extern "C" {
#define TP_END_DECLS                                                           \
  }                                                                            \
  TP_VISIBILITY_POP
#else
#define TP_BEGIN_DECLS TP_VISIBILITY_PUSH
#define TP_END_DECLS TP_VISIBILITY_POP
#endif

#endif
