/* TP_TORCH_ALLOC_CONF: key:value pairs separated by commas. */
#define _POSIX_C_SOURCE 200809L
#include "torch_conf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void tp_torch_conf_defaults(tp_torch_conf *conf) {
  memset(conf, 0, sizeof *conf);
  conf->limit = TP_UNLIMITED;
  conf->max_cached = TP_UNLIMITED;
  conf->max_cached_blocks = TP_UNLIMITED;
  conf->divisions = 4;
  conf->upstream = TP_DEVICE_UPSTREAM_MALLOC;
}

int tp_torch_parse_size(const char *text, size_t *out) {
  if (strcasecmp(text, "unlimited") == 0) {
    *out = TP_UNLIMITED;
    return 0;
  }
  if (*text < '0' || *text > '9')
    return -1;
  errno = 0;
  char *end;
  unsigned long long value = strtoull(text, &end, 10);
  if (errno != 0)
    return -1;
  static const char *const suffixes[][3] = {{"", "", ""},
                                            {"K", "KB", "KiB"},
                                            {"M", "MB", "MiB"},
                                            {"G", "GB", "GiB"},
                                            {"T", "TB", "TiB"}};
  for (int power = 0; power < 5; ++power)
    for (int form = 0; form < 3; ++form)
      if (strcasecmp(end, suffixes[power][form]) == 0) {
        unsigned long long scale = 1ull << (10 * power);
        if (value > SIZE_MAX / scale)
          return -1;
        *out = (size_t)(value * scale);
        return 0;
      }
  return -1;
}

/* Applies one key:value pair. */
static int apply(tp_torch_conf *conf, const char *key, const char *value,
                 char *error, size_t error_size) {
  size_t size;
  if (strcmp(key, "limit") == 0 || strcmp(key, "max_cached") == 0 ||
      strcmp(key, "max_cached_blocks") == 0) {
    if (tp_torch_parse_size(value, &size) != 0 || size == 0) {
      snprintf(error, error_size,
               "%s:%s is not a size above 0 (e.g. 512, 64KiB, 8G, "
               "unlimited)",
               key, value);
      return -1;
    }
    if (key[0] == 'l')
      conf->limit = size;
    else if (strcmp(key, "max_cached") == 0)
      conf->max_cached = size;
    else
      conf->max_cached_blocks = size;
  } else if (strcmp(key, "divisions") == 0) {
    if (strcmp(value, "1") && strcmp(value, "2") && strcmp(value, "4") &&
        strcmp(value, "8") && strcmp(value, "16")) {
      snprintf(error, error_size, "divisions:%s is not 1, 2, 4, 8 or 16",
               value);
      return -1;
    }
    conf->divisions = (unsigned)atoi(value);
  } else if (strcmp(key, "upstream") == 0) {
    if (strcmp(value, "malloc") == 0) {
      conf->upstream = TP_DEVICE_UPSTREAM_MALLOC;
    } else if (strcmp(value, "malloc_async") == 0) {
      conf->upstream = TP_DEVICE_UPSTREAM_MALLOC_ASYNC;
    } else {
      snprintf(error, error_size,
               "upstream:%s is neither malloc nor malloc_async", value);
      return -1;
    }
  } else if (strcmp(key, "stats") == 0) {
    if (strcmp(value, "0") && strcmp(value, "1")) {
      snprintf(error, error_size, "stats:%s is neither 0 nor 1", value);
      return -1;
    }
    conf->print_stats = value[0] == '1';
  } else if (strcmp(key, "event_log") == 0) {
    if (!*value || strlen(value) >= sizeof conf->event_log) {
      snprintf(error, error_size, "event_log: empty or too long a path");
      return -1;
    }
    strcpy(conf->event_log, value);
  } else {
    snprintf(error, error_size,
             "unknown key '%s' (known: limit, max_cached, max_cached_blocks, "
             "divisions, upstream, stats, event_log)",
             key);
    return -1;
  }
  return 0;
}

int tp_torch_conf_parse(const char *text, tp_torch_conf *conf, char *error,
                        size_t error_size) {
  tp_torch_conf parsed;
  tp_torch_conf_defaults(&parsed);
  tp_torch_conf_defaults(conf);
  if (!text)
    return 0;
  char copy[1024];
  if (strlen(text) >= sizeof copy) {
    snprintf(error, error_size, "longer than %zu characters", sizeof copy - 1);
    return -1;
  }
  strcpy(copy, text);
  char *save = NULL;
  for (char *item = strtok_r(copy, ",", &save); item;
       item = strtok_r(NULL, ",", &save)) {
    while (*item == ' ')
      ++item;
    char *colon = strchr(item, ':');
    if (!colon) {
      snprintf(error, error_size, "'%s' is not key:value", item);
      return -1;
    }
    *colon = '\0';
    char *value = colon + 1;
    char *tail = value + strlen(value);
    while (tail > value && tail[-1] == ' ')
      *--tail = '\0';
    if (apply(&parsed, item, value, error, error_size) != 0)
      return -1;
  }
  *conf = parsed;
  return 0;
}
