/* Parsers of the load module: timestamp traces, the Azure per-minute CSV, response headers and
 * Lambda REPORT lines, YAML workloads, compact command-line forms, payloads, and the lean
 * client's HTTP/1.1 response parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

/* cmocka needs the headers above first */
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load/http_int.h"
#include "load/load.h"
#include "load/load_int.h"

static int trace(const char *txt, load_unit u, int64_t **v, size_t *n, fm_err *err)
{
    return load_trace_parse(txt, strlen(txt), u, "t.txt", v, n, err);
}

static void test_trace_units_and_shift(void **st)
{
    (void)st;
    int64_t *v;
    size_t n;
    fm_err err = {0};
    assert_int_equal(
        trace("# header\n10.5\n\n10.500000001\r\n  12 \n12\n", LOAD_UNIT_S, &v, &n, &err), 0);
    assert_int_equal(n, 4);
    int64_t want[] = {0, 1, 1500000000, 1500000000};
    assert_memory_equal(v, want, sizeof want);
    free(v);
    /* exact nanoseconds at epoch scale, where a double would round */
    assert_int_equal(
        trace("1732780800123456789\n1732780800123456790\n", LOAD_UNIT_NS, &v, &n, &err), 0);
    assert_int_equal(v[1], 1);
    free(v);
    assert_int_equal(trace("1.5\n2.25", LOAD_UNIT_MS, &v, &n, &err), 0);
    assert_int_equal(v[1], 750000);
    free(v);
    assert_int_equal(trace("3\n4", LOAD_UNIT_US, &v, &n, &err), 0);
    assert_int_equal(v[1], 1000);
    free(v);
}

static void test_trace_errors(void **st)
{
    (void)st;
    static const struct {
        const char *txt, *want;
    } cases[] = {
        {"1\n2\nabc\n", "line 3: malformed time 'abc'"},
        {"1\n3\n2\n", "line 3: time '2' is before the previous line's"},
        {"1\n-2\n", "line 2: malformed time '-2'"},
        {"1e3\n", "line 1: malformed time"},
        {"1.2.3\n", "line 1: malformed time"},
        {"99999999999999999999\n", "line 1: time out of range"},
        {"# only a comment\n\n", "has no arrivals"},
        {"", "has no arrivals"},
        {"1\n.\n", "line 2: malformed time"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t *v = (int64_t *)1;
        size_t n;
        fm_err err = {0};
        assert_int_not_equal(trace(cases[i].txt, LOAD_UNIT_S, &v, &n, &err), 0);
        assert_null(v);
        if (!strstr(err.msg, cases[i].want) || !strstr(err.msg, "t.txt"))
            fail_msg("case %zu: '%s' does not contain '%s'", i, err.msg, cases[i].want);
    }
}

static const char azure_csv[] = "HashOwner,HashApp,HashFunction,Trigger,1,2,3\n"
                                "o1,a1,f1,http,1,0,5\n"
                                "o1,a1,f2,timer,2,2,2\r\n"
                                "\n"
                                "o2,a2,f1,queue,0,10,0\n";

static void test_azure(void **st)
{
    (void)st;
    uint64_t *c;
    size_t m;
    fm_err err = {0};
    assert_int_equal(load_azure_parse(azure_csv, strlen(azure_csv), "d.csv", NULL, &c, &m, &err),
                     0);
    assert_int_equal(m, 3);
    assert_int_equal(c[0], 3);
    assert_int_equal(c[1], 12);
    assert_int_equal(c[2], 7);
    free(c);
    assert_int_equal(load_azure_parse(azure_csv, strlen(azure_csv), "d.csv", "f1", &c, &m, &err),
                     0);
    assert_int_equal(c[0], 1);
    assert_int_equal(c[1], 10);
    assert_int_equal(c[2], 5);
    free(c);
    assert_int_not_equal(
        load_azure_parse(azure_csv, strlen(azure_csv), "d.csv", "nope", &c, &m, &err), 0);
    assert_non_null(strstr(err.msg, "no row has HashFunction 'nope'"));
}

static void test_azure_errors(void **st)
{
    (void)st;
    static const struct {
        const char *txt, *want;
    } cases[] = {
        {"HashOwner,HashApp,HashFunction,Trigger,1,3\n", "line 1: header must be"},
        {"Owner,HashApp,HashFunction,Trigger,1\n", "line 1: header must be"},
        {"HashOwner,HashApp,HashFunction,Trigger\n", "line 1: header must be"},
        {"HashOwner,HashApp,HashFunction,Trigger,1,2\no,a,f,t,1\n", "line 2: 5 fields, expected 6"},
        {"HashOwner,HashApp,HashFunction,Trigger,1,2\no,a,f,t,1,x\n",
         "line 2: minute 2: count 'x' is not a non-negative integer"},
        {"HashOwner,HashApp,HashFunction,Trigger,1\no,a,f,t,-1\n", "minute 1: count '-1'"},
        {"HashOwner,HashApp,HashFunction,Trigger,1\no,a,f,t,99999999\n", "more than 10000000"},
        {"HashOwner,HashApp,HashFunction,Trigger,1\n", "has no rows"},
        {"", "is empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t *c = (uint64_t *)1;
        size_t m;
        fm_err err = {0};
        assert_int_not_equal(
            load_azure_parse(cases[i].txt, strlen(cases[i].txt), "d.csv", NULL, &c, &m, &err), 0);
        assert_null(c);
        if (!strstr(err.msg, cases[i].want))
            fail_msg("case %zu: '%s' does not contain '%s'", i, err.msg, cases[i].want);
    }
}

static void test_headers(void **st)
{
    (void)st;
    load_record r = {.cold = -1, .instance = -1, .init_ms = -1, .duration_ms = -1, .billed_ms = -1};
    bool fe = false;
    const char *h1 = "x-faasml-instance: 42\r\n", *h2 = "X-Faasml-Cold: true\r\n",
               *h3 = "X-Amz-Function-Error: Unhandled\r\n", *h4 = "X-Faasml-Instance: -3\r\n";
    load_headers_parse_line(h1, strlen(h1), &r, &fe);
    load_headers_parse_line(h2, strlen(h2), &r, &fe);
    assert_int_equal(r.instance, 42);
    assert_int_equal(r.cold, 1);
    assert_false(fe);
    load_headers_parse_line(h4, strlen(h4), &r, &fe);
    assert_int_equal(r.instance, 42); /* a negative id is ignored */
    load_headers_parse_line(h3, strlen(h3), &r, &fe);
    assert_true(fe);
    /* base64 of a log tail with a cold REPORT line */
    const char *rep = "INIT_REPORT Init Duration: 9.00 ms\tPhase: init\n"
                      "REPORT RequestId: old\tDuration: 99.00 ms\n"
                      "START RequestId: x\nREPORT RequestId: x\tDuration: 12.50 ms\tBilled "
                      "Duration: 13 ms\tMemory Size: 1024 MB\tMax Memory Used: 80 MB\tInit "
                      "Duration: 250.25 ms\t\n";
    load_record q = {.cold = -1};
    assert_true(load_report_parse(rep, strlen(rep), &q));
    assert_true(fabs(q.duration_ms - 12.5) < 1e-9);
    assert_true(fabs(q.billed_ms - 13) < 1e-9);
    assert_true(fabs(q.init_ms - 250.25) < 1e-9);
    assert_int_equal(q.memory_mb, 1024);
    assert_int_equal(q.cold, 1);
    const char *warm = "REPORT RequestId: y Duration: 3.00 ms Billed Duration: 4 ms Memory "
                       "Size: 128 MB";
    load_record w = {.cold = -1};
    assert_true(load_report_parse(warm, strlen(warm), &w));
    assert_true(fabs(w.duration_ms - 3) < 1e-9);
    assert_true(fabs(w.billed_ms - 4) < 1e-9);
    assert_int_equal(w.cold, 0);
    assert_false(load_report_parse("no report here", 14, &w));
    /* through the header, base64 encoded */
    const char *b64 = "X-Amz-Log-Result: "
                      "UkVQT1JUIFJlcXVlc3RJZDogeglEdXJhdGlvbjogMS41IG1zCUJpbGxlZCBEdXJhdGlvbjogMiBt"
                      "cwlNZW1vcnkgU2l6ZTogNTEyIE1C\r\n";
    load_record z = {.cold = -1};
    load_headers_parse_line(b64, strlen(b64), &z, &fe);
    assert_true(fabs(z.duration_ms - 1.5) < 1e-9);
    assert_int_equal(z.memory_mb, 512);
    assert_int_equal(z.cold, 0);
}

static void test_compact_forms(void **st)
{
    (void)st;
    fm_err err = {0};
    double v[LOAD_MMPP_MAX], m[LOAD_MMPP_MAX][LOAD_MMPP_MAX];
    int n, k;
    assert_int_equal(load_parse_list("10s,250ms,2", true, v, LOAD_MMPP_MAX, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_true(fabs(v[1] - 0.25) < 1e-12 && fabs(v[2] - 2) < 1e-12);
    assert_int_not_equal(load_parse_list("1,x", false, v, LOAD_MMPP_MAX, &n, &err), 0);
    assert_non_null(strstr(err.msg, "'x' is not a number"));
    assert_int_equal(load_parse_matrix("0,1;1,0", m, &k, &err), 0);
    assert_int_equal(k, 2);
    assert_int_not_equal(load_parse_matrix("0,1;1", m, &k, &err), 0);
    assert_non_null(strstr(err.msg, "row 2 has 1 values"));
    assert_int_not_equal(load_parse_matrix("0,1,0;1,0,0", m, &k, &err), 0);
    assert_non_null(strstr(err.msg, "square"));
    load_segment g;
    assert_int_equal(load_segment_parse("sine:50:20:10s:1m", &g, &err), 0);
    assert_int_equal(g.kind, LOAD_SEG_SINE);
    assert_true(g.a == 50 && g.b == 20 && g.period_s == 10);
    assert_int_equal(g.duration_ns, 60000000000LL);
    assert_int_equal(load_segment_parse("ramp:1:2:3s", &g, &err), 0);
    assert_int_not_equal(load_segment_parse("ramp:1:3s", &g, &err), 0);
    assert_non_null(strstr(err.msg, "expected ramp:FROM:TO:DURATION"));
    assert_int_not_equal(load_segment_parse("wave:1:3s", &g, &err), 0);
}

static void test_yaml_spec(void **st)
{
    (void)st;
    const char *doc = "process: mmpp\n"
                      "requests: 500\n"
                      "seed: 9\n"
                      "mmpp:\n"
                      "  rates: [5, 50]\n"
                      "  sojourn: [20s, 5s]\n"
                      "  transition: [[0, 1], [1, 0]]\n";
    fm_yaml *y;
    fm_err err = {0};
    assert_int_equal(fm_yaml_load_buf(doc, strlen(doc), "w.yaml", &y, &err), 0);
    load_spec s;
    load_spec_init(&s);
    assert_int_equal(load_spec_from_yaml(y, fm_yaml_root(y), &s, &err), 0);
    assert_int_equal(s.process, LOAD_PROC_MMPP);
    assert_int_equal(s.requests, 500);
    assert_int_equal(s.seed, 9);
    assert_true(s.mmpp.sojourn_s[1] == 5);
    char *json = load_spec_to_json(&s);
    assert_non_null(strstr(json, "\"process\":\"mmpp\""));
    free(json);
    fm_yaml_free(y);
    load_spec_release(&s);

    const char *bad[][2] = {
        {"process: mmpp\nrequests: 5\nmmpp:\n  rates: [1, 2]\n  sojourn: [1s, 1s]\n"
         "  transition: [[0, 1], [0.5, 0]]\n",
         "row 1 sums to 0.5, not 1"},
        {"process: poisson\nrate: 0\nrequests: 3\n", "rate is 0"},
        {"process: poisson\nrat: 5\n", "w.yaml:2:1"},
        {"process: piecewise\nsegments:\n  - {kind: wave, duration: 1s}\n", "w.yaml:3:"},
        {"process: mmpp\nrequests: 5\nmmpp:\n  rates: [1, 2]\n  transition: [[0, 1]]\n",
         "2x2 matrix"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(fm_yaml_load_buf(bad[i][0], strlen(bad[i][0]), "w.yaml", &y, &err), 0);
        load_spec_init(&s);
        assert_int_not_equal(load_spec_from_yaml(y, fm_yaml_root(y), &s, &err), 0);
        if (!strstr(err.msg, bad[i][1]))
            fail_msg("case %zu: '%s' does not contain '%s'", i, err.msg, bad[i][1]);
        load_spec_release(&s);
        fm_yaml_free(y);
    }
}

static void test_payloads(void **st)
{
    (void)st;
    fm_err err = {0};
    load_payloads *p;
    assert_int_equal(load_payloads_tensor("input:2x3:FP32", 5, &p, &err), 0);
    const char *d;
    size_t n;
    load_payloads_get(p, 1, &d, &n);
    assert_int_equal(strncmp(d,
                             "{\"inputs\":[{\"name\":\"input\",\"shape\":[2,3],\"datatype\":"
                             "\"FP32\",\"data\":[",
                             61),
                     0);
    int commas = 0;
    for (size_t i = 0; i < n; i++)
        commas += d[i] == ',';
    assert_int_equal(commas, 4 + 5); /* 3 between keys, 1 in the shape, 5 between the 6 values */
    /* the binary extension carries the same six values: header, then little-endian floats */
    char json[512];
    load_payloads_get(p, 1, &d, &n);
    assert_true(n < sizeof json);
    memcpy(json, d, n);
    json[n] = 0;
    load_payloads_free(p);
    size_t hl = 0;
    assert_int_equal(load_payloads_tensor_binary("input:2x3:FP32", 5, &p, &hl, &err), 0);
    load_payloads_get(p, 1, &d, &n);
    const char *want_h = "{\"inputs\":[{\"name\":\"input\",\"shape\":[2,3],\"datatype\":\"FP32\","
                         "\"parameters\":{\"binary_data_size\":24}}]}";
    assert_int_equal(hl, strlen(want_h));
    assert_int_equal(n, hl + 24);
    assert_memory_equal(d, want_h, hl);
    char *v = strstr(json, "\"data\":[") + 8;
    for (int i = 0; i < 6; i++) {
        float want = strtof(v, &v), got;
        v++; /* the comma */
        unsigned char *b = (unsigned char *)d + hl + 4 * i;
        uint32_t u = b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        memcpy(&got, &u, 4);
        assert_true(got == want);
    }
    load_payloads_free(p);
    assert_int_equal(load_payloads_tensor_binary("input:4:UINT8", 5, &p, &hl, &err), 0);
    load_payloads_get(p, 1, &d, &n);
    assert_int_equal(n, hl + 4);
    load_payloads_free(p);
    assert_int_not_equal(load_payloads_tensor_binary("input:2x3:FP16", 5, &p, &hl, &err), 0);
    assert_non_null(strstr(err.msg, "unsupported type 'FP16'"));
    assert_int_equal(load_payloads_tensor("input:2x3:FP32", 5, &p, &err), 0);
    load_payloads_free(p);
    assert_int_not_equal(load_payloads_tensor("input:2x0:FP32", 5, &p, &err), 0);
    assert_int_not_equal(load_payloads_tensor("input:2x3:FP16", 5, &p, &err), 0);
    assert_non_null(strstr(err.msg, "unsupported type 'FP16'"));

    char dir[] = "/tmp/fm_payloads_XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *names[] = {"b.json", "a.json", "c.json"};
    for (int i = 0; i < 3; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "w");
        fputs(names[i], f);
        fclose(f);
    }
    assert_int_equal(load_payloads_from_path(dir, LOAD_PICK_ROUND_ROBIN, 1, &p, &err), 0);
    assert_int_equal(load_payloads_count(p), 3);
    const char *order[] = {"a.json", "b.json", "c.json", "a.json"};
    for (int i = 0; i < 4; i++) {
        load_payloads_get(p, (uint64_t)i + 1, &d, &n);
        assert_int_equal(n, 6);
        assert_memory_equal(d, order[i], 6);
    }
    load_payloads_free(p);
    /* random picks: same seed, same sequence */
    char seq[2][64];
    for (int r = 0; r < 2; r++) {
        assert_int_equal(load_payloads_from_path(dir, LOAD_PICK_RANDOM, 77, &p, &err), 0);
        for (int i = 0; i < 64; i++) {
            load_payloads_get(p, (uint64_t)i + 1, &d, &n);
            seq[r][i] = d[0];
        }
        load_payloads_free(p);
    }
    assert_memory_equal(seq[0], seq[1], 64);
    for (int i = 0; i < 3; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    assert_int_not_equal(load_payloads_from_path(dir, LOAD_PICK_RANDOM, 77, &p, &err), 0);
}

/* ---- HTTP/1.1 responses ---------------------------------------------------------------------- */
typedef struct http_out {
    load_http_rc rc;
    int status, lines;
    uint64_t body;
    bool keep;
    size_t used_total;
    const char *why;
} http_out;

static void count_line(const char *p, size_t len, void *ud)
{
    (void)p;
    (void)len;
    ((http_out *)ud)->lines++;
}

/* Feeds `txt` in pieces of `step` bytes like the client does; eof: the connection ends after. */
static http_out http_run(const char *txt, size_t step, bool eof)
{
    http_out o = {.rc = LOAD_HTTP_MORE};
    load_http_resp r;
    load_http_resp_init(&r, false);
    size_t n = strlen(txt), fed = 0, have = 0;
    char buf[4096];
    while (o.rc == LOAD_HTTP_MORE && fed < n) {
        size_t k = FM_MIN(step, n - fed);
        memcpy(buf + have, txt + fed, k);
        have += k;
        fed += k;
        size_t used = 0;
        o.rc = load_http_parse(&r, buf, have, &used, count_line, &o, &o.why);
        memmove(buf, buf + used, have - used);
        have -= used;
        o.used_total += used;
    }
    if (o.rc == LOAD_HTTP_MORE && eof)
        o.rc = load_http_parse_eof(&r, &o.why);
    o.status = r.status;
    o.body = r.body_bytes;
    o.keep = r.keep_alive;
    return o;
}

static void test_http_responses(void **state)
{
    (void)state;
    for (size_t step = 1; step <= 64; step *= 4) {
        http_out o =
            http_run("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello", step, false);
        assert_int_equal(o.rc, LOAD_HTTP_DONE);
        assert_int_equal(o.status, 200);
        assert_int_equal(o.body, 5);
        assert_int_equal(o.lines, 2);
        assert_true(o.keep);
        o = http_run("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
                     "6;x=1\r\n world\r\n0\r\nT: 1\r\n\r\n",
                     step, false);
        assert_int_equal(o.rc, LOAD_HTTP_DONE);
        assert_int_equal(o.body, 11);
        /* a 100 Continue head is skipped; its headers are not the response's */
        o = http_run("HTTP/1.1 100 Continue\r\nX-Skip: 1\r\n\r\nHTTP/1.1 429 Too Many\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n",
                     step, false);
        assert_int_equal(o.rc, LOAD_HTTP_DONE);
        assert_int_equal(o.status, 429);
        assert_int_equal(o.lines, 2);
        assert_false(o.keep);
        /* HTTP/1.0 without a length: the body runs to the close */
        o = http_run("HTTP/1.0 200 OK\r\n\r\nuntil close", step, true);
        assert_int_equal(o.rc, LOAD_HTTP_DONE);
        assert_int_equal(o.body, 11);
        assert_false(o.keep);
        /* a connection that ends inside the body */
        o = http_run("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort", step, true);
        assert_int_equal(o.rc, LOAD_HTTP_ERROR);
        assert_non_null(strstr(o.why, "closed before the response was complete"));
    }
    /* the parser stops at the end of the response: what follows is not consumed */
    http_out o = http_run("HTTP/1.1 204 No Content\r\n\r\nEXTRA", 1000, false);
    assert_int_equal(o.rc, LOAD_HTTP_DONE);
    assert_int_equal(o.used_total, strlen("HTTP/1.1 204 No Content\r\n\r\n"));
    static const struct {
        const char *in, *why;
    } bad[] = {
        {"HTTP/2 200\r\n\r\n", "malformed status line"},
        {"HTTP/1.1 2x0 OK\r\n\r\n", "malformed status code"},
        {"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "malformed header line"},
        {"HTTP/1.1 200 OK\r\n folded\r\n\r\n", "folded header line"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", "malformed content-length"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
         "conflicting content-length"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported transfer-encoding"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab", "missing CRLF"},
        {"HTTP/1.1 101 Switching Protocols\r\n\r\n", "protocol switch"},
    };
    for (size_t i = 0; i < FM_ARRAY_LEN(bad); i++) {
        o = http_run(bad[i].in, 7, true);
        assert_int_equal(o.rc, LOAD_HTTP_ERROR);
        if (!strstr(o.why, bad[i].why))
            fail_msg("'%s': reason '%s', expected '%s'", bad[i].in, o.why, bad[i].why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_units_and_shift),
        cmocka_unit_test(test_trace_errors),
        cmocka_unit_test(test_azure),
        cmocka_unit_test(test_azure_errors),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_compact_forms),
        cmocka_unit_test(test_yaml_spec),
        cmocka_unit_test(test_payloads),
        cmocka_unit_test(test_http_responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
