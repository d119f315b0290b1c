/* Internal: locale-independent decimal numbers for the expression
 * language (expression_number.c). */
#ifndef TP_TENSOR_EXPRESSION_NUMBER_H
#define TP_TENSOR_EXPRESSION_NUMBER_H

#include <stddef.h>

/* The longest numeric literal read, in characters. */
#define TP_EXPRESSION_NUMBER_MAX 400

/* Reads the whole of text[0, length) as a decimal real (correctly rounded
 * by the C library's strtod); 0 if it is not one. */
int tp_expression_read_real(const char *text, size_t length, double *out);

/* Writes a finite non-negative `value` so that it reads back exactly and
 * as a real (it always holds '.', 'e' or both). */
void tp_expression_write_real(double value, char out[32]);

#endif
