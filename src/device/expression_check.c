/* The checks of a user expression that need no compiler. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "device/expression.h"

static int is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}

/* If the name [begin, end) is i<digits>, its number (capped); else -1. */
static long index_number(const char *begin, const char *end) {
  if (end - begin < 2 || begin[0] != 'i')
    return -1;
  long number = 0;
  for (const char *p = begin + 1; p < end; ++p) {
    if (*p < '0' || *p > '9')
      return -1;
    if (number < 1000000)
      number = number * 10 + (*p - '0');
  }
  return number;
}

tp_status tp_expression_check(const char *caller, const char *expression,
                              int ndim) {
  if (!expression)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: NULL expression", caller);
  if (ndim < 0 || ndim > TP_MAX_NDIM)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: ndim %d outside 0..%d", caller,
                   ndim, TP_MAX_NDIM);
  size_t length = strlen(expression);
  if (length > TP_EXPRESSION_MAX_LENGTH)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: expression of %zu characters, more than %d", caller,
                   length, TP_EXPRESSION_MAX_LENGTH);
  if (strspn(expression, " \t\r\n") == length)
    return tp_fail(TP_ERR_INVALID_ARGUMENT, "%s: empty expression", caller);
  const char *bad = strpbrk(expression, ";{}");
  if (bad)
    return tp_fail(TP_ERR_INVALID_ARGUMENT,
                   "%s: '%c' at offset %zu of \"%s\": the fill value must be "
                   "a single expression",
                   caller, *bad, (size_t)(bad - expression), expression);
  const char *p = expression;
  while (*p) {
    if (*p >= '0' && *p <= '9') {
      /* A number literal: skip it whole so that 1e5 or 0x1f is no name. */
      while (is_name_char(*p) || *p == '.')
        ++p;
    } else if (is_name_start(*p)) {
      const char *begin = p;
      while (is_name_char(*p))
        ++p;
      long k = index_number(begin, p);
      if (k >= ndim)
        return tp_fail(
            TP_ERR_INVALID_ARGUMENT,
            "%s: \"%s\" names index %.*s, but the tensor has %d dimensions "
            "(indices i0..i%d)",
            caller, expression, (int)(p - begin), begin, ndim, ndim - 1);
    } else {
      ++p;
    }
  }
  return TP_SUCCESS;
}
