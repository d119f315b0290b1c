/* Decimal numbers of the expression language, read and written the same
 * in every locale (the language's decimal point is always '.', whatever
 * LC_NUMERIC the program set): strtod and snprintf run under the "C"
 * locale of the calling thread only, for the duration of the call. */
#define _POSIX_C_SOURCE 200809L
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/expression_number.h"

/* Runs with the calling thread's numeric locale set to "C". */
static locale_t c_locale_enter(locale_t *previous) {
  locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
  *previous = c ? uselocale(c) : (locale_t)0;
  return c;
}

static void c_locale_leave(locale_t c, locale_t previous) {
  if (c) {
    uselocale(previous);
    freelocale(c);
  }
}

int tp_expression_read_real(const char *text, size_t length, double *out) {
  char buffer[TP_EXPRESSION_NUMBER_MAX + 1];
  if (length == 0 || length > TP_EXPRESSION_NUMBER_MAX)
    return 0;
  memcpy(buffer, text, length);
  buffer[length] = '\0';
  locale_t previous;
  locale_t c = c_locale_enter(&previous);
  char *end = NULL;
  double value = strtod(buffer, &end);
  c_locale_leave(c, previous);
  if (end != buffer + length)
    return 0;
  *out = value;
  return 1;
}

/* The shortest of %.15g, %.16g, %.17g that reads back as `value`; with
 * ".0" appended when it would read as an integer. */
void tp_expression_write_real(double value, char out[32]) {
  locale_t previous;
  locale_t c = c_locale_enter(&previous);
  for (int digits = 15; digits <= 17; ++digits) {
    snprintf(out, 32, "%.*g", digits, value);
    if (strtod(out, NULL) == value)
      break;
  }
  c_locale_leave(c, previous);
  if (!strpbrk(out, ".eEin"))
    strncat(out, ".0", 31 - strlen(out));
}
