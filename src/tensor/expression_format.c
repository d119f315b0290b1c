/* The canonical text of a parsed expression: printed back in the language,
 * with only the parentheses the tree needs. Iterative (an explicit stack),
 * so that a deep tree cannot exhaust the C stack. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tensor/expression.h"
#include "tensor/expression_number.h"

/* Binding strength: ?: 1, || 2, && 3, == != 4, < <= > >= 5, + - 6,
 * * / % 7, unary 8, operands 9. */
static int precedence(const tp_expression *e, int node) {
  const tp_expr_node *n = &e->nodes[node];
  switch ((tp_expr_op)n->op) {
  case TP_EXPR_COND: return 1;
  case TP_EXPR_OR: return 2;
  case TP_EXPR_AND: return 3;
  case TP_EXPR_EQ:
  case TP_EXPR_NE: return 4;
  case TP_EXPR_LT:
  case TP_EXPR_LE:
  case TP_EXPR_GT:
  case TP_EXPR_GE: return 5;
  case TP_EXPR_ADD:
  case TP_EXPR_SUB: return 6;
  case TP_EXPR_MUL:
  case TP_EXPR_DIV:
  case TP_EXPR_MOD: return 7;
  case TP_EXPR_NEG:
  case TP_EXPR_NOT: return 8;
  case TP_EXPR_TO_REAL: return precedence(e, n->arg[0]);
  case TP_EXPR_LITERAL:
  case TP_EXPR_INDEX:
  case TP_EXPR_CALL: return 9;
  }
  return 9;
}

static const char *operator_text(tp_expr_op op) {
  switch (op) {
  case TP_EXPR_ADD: return "+";
  case TP_EXPR_SUB: return "-";
  case TP_EXPR_MUL: return "*";
  case TP_EXPR_DIV: return "/";
  case TP_EXPR_MOD: return "%";
  case TP_EXPR_LT: return "<";
  case TP_EXPR_LE: return "<=";
  case TP_EXPR_GT: return ">";
  case TP_EXPR_GE: return ">=";
  case TP_EXPR_EQ: return "==";
  case TP_EXPR_NE: return "!=";
  case TP_EXPR_AND: return "&&";
  case TP_EXPR_OR: return "||";
  default: return "?";
  }
}

typedef struct item {
  int node;         /* -1: `text` */
  int parenthesize; /* for a node */
  const char *text;
} item;

typedef struct buffer {
  char *data;
  size_t length, capacity;
  int failed;
} buffer;

static void append(buffer *b, const char *text) {
  size_t n = strlen(text);
  if (b->failed)
    return;
  if (b->length + n + 1 > b->capacity) {
    size_t capacity = 2 * (b->length + n + 1);
    char *grown = realloc(b->data, capacity);
    if (!grown) {
      b->failed = 1;
      return;
    }
    b->data = grown;
    b->capacity = capacity;
  }
  memcpy(b->data + b->length, text, n + 1);
  b->length += n;
}

tp_status tp_expression_format(const char *caller, const tp_expression *e,
                               char **out) {
  /* Each node pushes at most 8 items (a call: name, up to 3 arguments, 2
   * commas, a parenthesis) and is pushed once. */
  size_t capacity = 8 * (size_t)e->count + 8;
  item *stack = malloc(capacity * sizeof *stack);
  buffer b = {NULL, 0, 0, 0};
  if (!stack)
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "%s: no memory to print the "
                   "expression",
                   caller);
  size_t top = 0;
  stack[top++] = (item){e->count - 1, 0, NULL};
  append(&b, "");
  while (top > 0 && !b.failed) {
    item it = stack[--top];
    if (it.node < 0) {
      append(&b, it.text);
      continue;
    }
    const tp_expr_node *n = &e->nodes[it.node];
    tp_expr_op op = (tp_expr_op)n->op;
    int p = precedence(e, it.node);
/* Items go on the stack in reverse order of printing. */
#define PUSH_TEXT(t) (stack[top++] = (item){-1, 0, (t)})
#define PUSH_NODE(k, paren) (stack[top++] = (item){(k), (paren), NULL})
    switch (op) {
    case TP_EXPR_LITERAL: {
      char text[40];
      if (n->type == TP_EXPR_INT)
        snprintf(text, sizeof text, "%lld", (long long)n->v.i);
      else
        tp_expression_write_real(n->v.d, text);
      append(&b, text);
      break;
    }
    case TP_EXPR_INDEX: {
      char text[16];
      snprintf(text, sizeof text, "i%d", n->v.k);
      append(&b, text);
      break;
    }
    case TP_EXPR_TO_REAL: PUSH_NODE(n->arg[0], it.parenthesize); break;
    case TP_EXPR_NEG:
    case TP_EXPR_NOT:
      if (it.parenthesize)
        PUSH_TEXT(")");
      PUSH_NODE(n->arg[0], precedence(e, n->arg[0]) < 8);
      PUSH_TEXT(op == TP_EXPR_NEG ? "-" : "!");
      if (it.parenthesize)
        PUSH_TEXT("(");
      break;
    case TP_EXPR_COND:
      if (it.parenthesize)
        PUSH_TEXT(")");
      PUSH_NODE(n->arg[2], 0);
      PUSH_TEXT(":");
      PUSH_NODE(n->arg[1], 0);
      PUSH_TEXT("?");
      PUSH_NODE(n->arg[0], precedence(e, n->arg[0]) <= 1);
      if (it.parenthesize)
        PUSH_TEXT("(");
      break;
    case TP_EXPR_CALL:
      PUSH_TEXT(")");
      for (int k = n->nargs - 1; k >= 0; --k) {
        PUSH_NODE(n->arg[k], 0);
        if (k > 0)
          PUSH_TEXT(",");
      }
      PUSH_TEXT("(");
      PUSH_TEXT(tp_expr_functions[n->fn].name);
      break;
    default: /* binary, left-associative */
      if (it.parenthesize)
        PUSH_TEXT(")");
      PUSH_NODE(n->arg[1], precedence(e, n->arg[1]) <= p);
      PUSH_TEXT(operator_text(op));
      PUSH_NODE(n->arg[0], precedence(e, n->arg[0]) < p);
      if (it.parenthesize)
        PUSH_TEXT("(");
      break;
    }
#undef PUSH_TEXT
#undef PUSH_NODE
  }
  free(stack);
  if (b.failed) {
    free(b.data);
    return tp_fail(TP_ERR_OUT_OF_MEMORY,
                   "%s: no memory to print the expression", caller);
  }
  *out = b.data;
  return TP_SUCCESS;
}
