/* Fuzzes the load module's parsers of untrusted input. The first byte picks the parser: a
 * timestamp trace in one of four units, the Azure per-minute CSV (all rows, or one function),
 * response header lines (faasml and Lambda headers, base64 log tails), Lambda REPORT lines, a
 * YAML workload spec, or the compact command-line forms. Whatever parses is then run through an
 * arrival iterator for a bounded number of arrivals. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "load/load.h"
#include "load/load_int.h"

static void run_some(load_spec *s)
{
    load_arrival *a;
    fm_err err = {0};
    if (load_arrival_new(s, &a, &err) != 0)
        return;
    int64_t t, prev = 0;
    for (int i = 0; i < 2000 && load_arrival_next(a, &t); i++) {
        if (t < prev)
            abort(); /* the contract: non-decreasing */
        prev = t;
    }
    load_arrival_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned sel = data[0] % 10;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    fm_err err = {0};
    load_spec s;
    load_spec_init(&s);
    s.requests = 1000;
    switch (sel) {
    case 0:
    case 1:
    case 2:
    case 3:
        if (load_trace_parse(p, n, (load_unit)sel, "fuzz", &s.trace_ns, &s.trace_n, &err) == 0) {
            s.process = LOAD_PROC_TRACE;
            run_some(&s);
        }
        break;
    case 4:
    case 5:
        if (load_azure_parse(p, n, "fuzz", sel == 5 ? "f" : NULL, &s.azure_counts, &s.azure_minutes,
                             &err) == 0) {
            uint64_t total = 0;
            for (size_t i = 0; i < s.azure_minutes; i++)
                total += s.azure_counts[i];
            s.process = LOAD_PROC_AZURE;
            s.spread = (load_spread)(n % 3);
            if (total < 100000)
                run_some(&s);
        }
        break;
    case 6: {
        load_record r = {.cold = -1, .instance = -1};
        bool fe = false;
        const char *b = p, *e = p + n;
        while (b < e) {
            const char *nl = memchr(b, '\n', (size_t)(e - b));
            size_t len = nl ? (size_t)(nl - b) + 1 : (size_t)(e - b);
            load_headers_parse_line(b, len, &r, &fe);
            b += len;
        }
        break;
    }
    case 7: {
        load_record r = {.cold = -1};
        load_report_parse(p, n, &r);
        break;
    }
    case 8: {
        /* specs naming trace files would read the file system: not from fuzz input */
        if (memmem(p, n, "trace", 5) || memmem(p, n, "azure", 5))
            break;
        fm_yaml *y;
        if (fm_yaml_load_buf(p, n, "fuzz.yaml", &y, &err) == 0) {
            if (load_spec_from_yaml(y, fm_yaml_root(y), &s, &err) == 0) {
                if (!s.requests || s.requests > 2000)
                    s.requests = 2000;
                run_some(&s);
                char *j = load_spec_to_json(&s);
                free(j);
            }
            fm_yaml_free(y);
        }
        break;
    }
    case 9: {
        char *str = malloc(n + 1);
        if (!str)
            break;
        memcpy(str, p, n);
        str[n] = 0;
        double v[LOAD_MMPP_MAX], m[LOAD_MMPP_MAX][LOAD_MMPP_MAX];
        int k;
        load_segment g;
        load_parse_list(str, n % 2, v, LOAD_MMPP_MAX, &k, &err);
        load_parse_matrix(str, m, &k, &err);
        if (load_segment_parse(str, &g, &err) == 0) {
            s.process = LOAD_PROC_PIECEWISE;
            s.nseg = 1;
            s.seg[0] = g;
            run_some(&s);
        }
        free(str);
        break;
    }
    }
    load_spec_release(&s);
    return 0;
}
