/*
 * The packed-weight cache (src/infer/packcache.c): written by the first session, mapped and used
 * by the next; a corrupt, truncated or foreign (other CPU features, other model) file is detected,
 * never used, and rewritten; outputs are the same bits with the cache, without it and from a
 * rebuilt one; two processes using one cache share its pages (/proc/PID/smaps).
 * Model: tests/fixtures/infer/pointwise.onnx (its convolutions run on oneDNN).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "infer/infer.h"
#include "infer/infer_int.h"

static char model_path[1024];
static char cache_dir[256];
static char cache_file[1400];

/* Why: one run of a fresh session on a fixed seeded input; returns the output bytes (malloc'd)
 * and the session's cache statistics. */
static void *run_once(const char *cache, infer_session_stats *st, size_t *len)
{
    fm_err err = {0};
    infer_model *m = NULL;
    assert_int_equal(infer_model_open(model_path, &m, &err), 0);
    infer_session_opts o;
    infer_session_opts_init(&o);
    o.pack_cache = cache;
    infer_session *s = NULL;
    int rc = infer_session_new(m, &o, &s, &err);
    if (rc)
        fail_msg("%s", err.msg);
    infer_io_info info;
    infer_model_input(m, 0, &info);
    fm_rng rng;
    fm_rng_seed(&rng, 7);
    infer_tensor in;
    assert_int_equal(infer_sample_input(&info, 1, 0, &rng, &in, &err), 0);
    infer_tensor out = {0};
    assert_int_equal(infer_session_run(s, &in, 1, &out, 1, &err), 0);
    void *copy = malloc(out.bytes);
    assert_non_null(copy);
    memcpy(copy, out.data, out.bytes);
    *len = out.bytes;
    infer_session_get_stats(s, st);
    free(in.data);
    infer_session_free(s);
    infer_model_free(m);
    return copy;
}

static void *read_cache(size_t *len)
{
    FILE *f = fopen(cache_file, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void write_cache(const void *buf, size_t len)
{
    FILE *f = fopen(cache_file, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
}

static void *reference_out;
static size_t reference_len;

static int setup(void **state)
{
    (void)state;
    unlink(cache_file);
    infer_session_stats st;
    size_t n;
    void *off = run_once("off", &st, &n);
    assert_int_equal(st.pack_cache, INFER_PACK_OFF);
    free(reference_out);
    reference_out = off;
    reference_len = n;
    void *first = run_once(cache_dir, &st, &n); /* writes the cache */
    assert_int_equal(st.pack_cache, INFER_PACK_MISSING);
    assert_true(st.pack_written);
    assert_true(st.pack_misses > 0);
    assert_int_equal(n, reference_len);
    assert_memory_equal(first, reference_out, n);
    free(first);
    return 0;
}

/* A session that finds a file a corruption made unusable: never used, the same bits, rewritten. */
static void expect_rebuilt(infer_pack_state want)
{
    infer_session_stats st;
    size_t n;
    void *out = run_once(cache_dir, &st, &n);
    assert_int_equal(st.pack_cache, want);
    assert_int_equal(st.pack_hits, 0);
    assert_true(st.pack_written);
    assert_int_equal(n, reference_len);
    assert_memory_equal(out, reference_out, n);
    free(out);
    out = run_once(cache_dir, &st, &n); /* and the rewritten file is valid again */
    assert_int_equal(st.pack_cache, INFER_PACK_VALID);
    assert_true(st.pack_hits > 0);
    assert_int_equal(st.pack_misses, 0);
    assert_memory_equal(out, reference_out, n);
    free(out);
}

static void test_used_and_identical(void **state)
{
    (void)state;
    infer_session_stats st;
    size_t n;
    void *out = run_once(cache_dir, &st, &n);
    assert_int_equal(st.pack_cache, INFER_PACK_VALID);
    assert_false(st.pack_written);
    assert_true(st.pack_hits > 0);
    assert_int_equal(st.pack_misses, 0);
    assert_true(st.pack_mapped_bytes > 0);
    assert_int_equal(n, reference_len);
    assert_memory_equal(out, reference_out, n);
    free(out);
}

static void test_corrupt_payload(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = read_cache(&len);
    buf[len - 7] ^= 0x40; /* one bit of the last packed weights */
    write_cache(buf, len);
    free(buf);
    expect_rebuilt(INFER_PACK_CORRUPT);
}

static void test_truncated(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = read_cache(&len);
    write_cache(buf, len / 2);
    expect_rebuilt(INFER_PACK_CORRUPT);
    write_cache(buf, 10); /* shorter than a header */
    expect_rebuilt(INFER_PACK_CORRUPT);
    write_cache(buf, 0);
    expect_rebuilt(INFER_PACK_CORRUPT);
    free(buf);
}

/* A well-formed file (checksum right) written on a machine with other CPU features, or for
 * another model: stale, not used. */
static void test_other_key(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = read_cache(&len);
    pack_hdr h;
    memcpy(&h, buf, sizeof h);
    h.cpu_key ^= 1;
    memcpy(buf, &h, sizeof h);
    h.checksum = infer__packcache_checksum(buf, len);
    memcpy(buf, &h, sizeof h);
    write_cache(buf, len);
    expect_rebuilt(INFER_PACK_STALE);
    memcpy(&h, buf, sizeof h);
    h.cpu_key ^= 1;
    h.model_hash ^= 1;
    memcpy(buf, &h, sizeof h);
    h.checksum = infer__packcache_checksum(buf, len);
    memcpy(buf, &h, sizeof h);
    write_cache(buf, len);
    expect_rebuilt(INFER_PACK_STALE);
    free(buf);
}

/* Why: the reader's own error messages name the failed check. */
static void test_parse_messages(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = read_cache(&len);
    pack_key key = {0};
    pack_hdr h;
    memcpy(&h, buf, sizeof h);
    key.model_hash = h.model_hash;
    key.model_bytes = h.model_bytes;
    key.cpu_key = h.cpu_key;
    memcpy(key.runtime, h.runtime, sizeof key.runtime);
    pack_view v;
    fm_err err = {0};
    assert_int_equal(infer__packcache_parse(buf, len, &key, &v, &err), 0);
    assert_true(v.n > 0);
    assert_int_equal(infer__packcache_parse(buf, len - 1, &key, &v, &err), FM_EPARSE);
    assert_non_null(strstr(err.msg, "truncated"));
    key.cpu_key ^= 2;
    assert_int_equal(infer__packcache_parse(buf, len, &key, &v, &err), FM_ESTATE);
    assert_non_null(strstr(err.msg, "CPU features"));
    key.cpu_key ^= 2;
    buf[0] = 'X';
    assert_int_equal(infer__packcache_parse(buf, len, &key, &v, &err), FM_EPARSE);
    assert_non_null(strstr(err.msg, "magic"));
    free(buf);
}

/* Shared_Clean + Shared_Dirty (kB) of this process's mapping of the cache file. */
static long shared_kb(void)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    char line[2048];
    bool in = false;
    long kb = -1, v;
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n')
            line[--n] = 0;
        if (strchr(line, '-') && strstr(line, " r--s ")) /* a mapping header line */
            in = n >= strlen(cache_file) && !strcmp(line + n - strlen(cache_file), cache_file);
        else if (in && sscanf(line, "Shared_Clean: %ld kB", &v) == 1)
            kb = (kb < 0 ? 0 : kb) + v;
        else if (in && sscanf(line, "Shared_Dirty: %ld kB", &v) == 1)
            kb = (kb < 0 ? 0 : kb) + v;
    }
    fclose(f);
    return kb;
}

static void test_two_processes_share_pages(void **state)
{
    (void)state;
    int go[2], done[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(done), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* holds a session on the cache until the parent has looked */
        fm_err err = {0};
        infer_model *m = NULL;
        infer_session *s = NULL;
        infer_session_opts o;
        infer_session_opts_init(&o);
        o.pack_cache = cache_dir;
        int ok =
            infer_model_open(model_path, &m, &err) == 0 && infer_session_new(m, &o, &s, &err) == 0;
        infer_session_stats st;
        if (ok)
            infer_session_get_stats(s, &st);
        char c = ok && st.pack_cache == INFER_PACK_VALID ? 'y' : 'n';
        if (write(go[1], &c, 1) != 1)
            _exit(2);
        if (read(done[0], &c, 1) < 0)
            _exit(2);
        infer_session_free(s);
        infer_model_free(m);
        _exit(0);
    }
    char c = 0;
    assert_int_equal(read(go[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    fm_err err = {0};
    infer_model *m = NULL;
    infer_session *s = NULL;
    infer_session_opts o;
    infer_session_opts_init(&o);
    o.pack_cache = cache_dir;
    assert_int_equal(infer_model_open(model_path, &m, &err), 0);
    assert_int_equal(infer_session_new(m, &o, &s, &err), 0);
    infer_session_stats st;
    infer_session_get_stats(s, &st);
    assert_int_equal(st.pack_cache, INFER_PACK_VALID);
    long kb = shared_kb();
    c = 'x';
    assert_int_equal(write(done[1], &c, 1), 1);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* both processes read the whole file when checking it: every page is in both mappings */
    assert_true(kb * 1024 >= (long)(st.pack_mapped_bytes & ~(size_t)4095));
    assert_true(kb > 0);
    infer_session_free(s);
    infer_model_free(m);
    close(go[0]);
    close(go[1]);
    close(done[0]);
    close(done[1]);
}

int main(void)
{
    const char *src = getenv("FM_SOURCE_DIR");
    snprintf(model_path, sizeof model_path, "%s/tests/fixtures/infer/pointwise.onnx",
             src ? src : ".");
    snprintf(cache_dir, sizeof cache_dir, "/tmp/fm-packcache-XXXXXX");
    if (!mkdtemp(cache_dir))
        return 1;
    snprintf(cache_file, sizeof cache_file, "%s/pointwise.onnx.fmpack", cache_dir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_used_and_identical, setup),
        cmocka_unit_test_setup(test_corrupt_payload, setup),
        cmocka_unit_test_setup(test_truncated, setup),
        cmocka_unit_test_setup(test_other_key, setup),
        cmocka_unit_test_setup(test_parse_messages, setup),
        cmocka_unit_test_setup(test_two_processes_share_pages, setup),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(cache_file);
    rmdir(cache_dir);
    free(reference_out);
    return rc;
}
