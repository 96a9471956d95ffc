/* Fuzzes the instance log's reader (src/platform/log.c), which `faasml logs` runs on every line
 * of a file anyone can append to. Whatever the line: the parser accepts or refuses it cleanly, an
 * accepted line's name and text lie inside it, and a stamp it read prints back (as the platform
 * writes stamps) to a time that parses to the same second. */
#include "platform/platform.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1);
    memcpy(line, data, size);
    line[size] = 0;
    size_t len = strlen(line);
    platform_log_line l;
    if (platform_log_parse(line, &l) == 0) {
        if (l.name < line || l.name + l.name_len > line + len || l.name_len == 0)
            abort();
        if (l.text < line || l.text > line + len || l.instance < 0)
            abort();
        if (l.t_ns != -1) {
            int64_t sec = l.t_ns >= 0 ? l.t_ns / 1000000000 : (l.t_ns + 1) / 1000000000 - 1;
            time_t t = (time_t)sec;
            struct tm tm;
            char buf[64];
            int64_t back;
            if (gmtime_r(&t, &tm) && tm.tm_year >= -1900 && tm.tm_year + 1900 <= 9999) {
                size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
                if (n && platform_log_time_parse(buf, n, &back) == 0 && back != sec * 1000000000 &&
                    tm.tm_sec < 60)
                    abort();
            }
        }
    }
    int64_t t;
    (void)platform_log_time_parse((const char *)data, size, &t);
    free(line);
    return 0;
}
