/* Request bodies: a file, every file of a directory (picked round-robin or at random with a
 * seeded stream), a literal, or a generated KServe v2 JSON tensor. All bodies are loaded before
 * the run so the timing loop never touches the disk. */
#include "load.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct body {
    char *data;
    size_t len;
} body;

struct load_payloads {
    body *b;
    size_t n;
    load_pick pick;
    uint64_t key; /* random picks: a hash of (key, request id) */
};

static load_payloads *payloads_alloc(load_pick pick, uint64_t seed)
{
    load_payloads *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->pick = pick;
    fm_rng root, r;
    fm_rng_seed(&root, seed);
    r = fm_rng_split(&root, 0x7061796c /* "payl" */);
    p->key = fm_rng_u64(&r);
    return p;
}

static int payloads_add(load_payloads *p, char *data, size_t len)
{
    body *nb = realloc(p->b, (p->n + 1) * sizeof *nb);
    if (!nb)
        return FM_ENOMEM;
    p->b = nb;
    p->b[p->n].data = data;
    p->b[p->n].len = len;
    p->n++;
    return 0;
}

void load_payloads_free(load_payloads *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->b[i].data);
    free(p->b);
    free(p);
}

size_t load_payloads_count(const load_payloads *p)
{
    return p ? p->n : 0;
}

/* Why: a pure function of the request id, so the body of request k does not depend on which
 * timing loop sends it or on how many requests were dropped before it. */
void load_payloads_get(const load_payloads *p, uint64_t id, const char **data, size_t *len)
{
    size_t i;
    if (p->pick == LOAD_PICK_RANDOM) {
        fm_rng r;
        fm_rng_seed(&r, p->key ^ (id * 0x9e3779b97f4a7c15ULL));
        i = (size_t)fm_rng_below(&r, p->n);
    } else {
        i = (size_t)((id ? id - 1 : 0) % p->n);
    }
    *data = p->b[i].data;
    *len = p->b[i].len;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_file(load_payloads *p, const char *path, fm_err *err)
{
    char *data;
    size_t len;
    int rc = fm_read_file(path, &data, &len, err);
    if (rc)
        return rc;
    if (payloads_add(p, data, len)) {
        free(data);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    return 0;
}

int load_payloads_from_path(const char *path, load_pick pick, uint64_t seed, load_payloads **out,
                            fm_err *err)
{
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0)
        return fm_err_set(err, -errno, "cannot open payload '%s': %s", path, strerror(errno));
    load_payloads *p = payloads_alloc(pick, seed);
    if (!p)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    int rc = 0;
    if (!S_ISDIR(st.st_mode)) {
        rc = add_file(p, path, err);
    } else {
        DIR *d = opendir(path);
        if (!d) {
            load_payloads_free(p);
            return fm_err_set(err, -errno, "cannot open payload directory '%s': %s", path,
                              strerror(errno));
        }
        char **names = NULL;
        size_t nn = 0;
        struct dirent *e;
        while (!rc && (e = readdir(d))) {
            char full[4096];
            snprintf(full, sizeof full, "%s/%s", path, e->d_name);
            if (e->d_name[0] == '.' || stat(full, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            char **nn2 = realloc(names, (nn + 1) * sizeof *names);
            if (!nn2 || !(nn2[nn] = strdup(full))) {
                names = nn2 ? nn2 : names;
                rc = fm_err_set(err, FM_ENOMEM, "out of memory");
                break;
            }
            names = nn2;
            nn++;
        }
        closedir(d);
        if (names)
            qsort(names, nn, sizeof *names, cmp_str);
        for (size_t i = 0; i < nn; i++) {
            if (!rc)
                rc = add_file(p, names[i], err);
            free(names[i]);
        }
        free(names);
        if (!rc && p->n == 0)
            rc = fm_err_set(err, FM_ENOTFOUND, "payload directory '%s' has no files", path);
    }
    if (rc) {
        load_payloads_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int load_payloads_literal(const char *s, load_payloads **out, fm_err *err)
{
    *out = NULL;
    load_payloads *p = payloads_alloc(LOAD_PICK_ROUND_ROBIN, 0);
    char *d = strdup(s);
    if (!p || !d || payloads_add(p, d, strlen(d))) {
        free(d);
        load_payloads_free(p);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    *out = p;
    return 0;
}

/* ---- generated KServe v2 tensors ------------------------------------------------------------ */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

#define TENSOR_MAX_ELEMS (16u << 20)

int load_payloads_tensor(const char *spec, uint64_t seed, load_payloads **out, fm_err *err)
{
    static const char *const types[] = {"FP32", "FP64", "INT32", "INT64", "UINT8"};
    *out = NULL;
    char buf[256], *save;
    snprintf(buf, sizeof buf, "%s", spec);
    char *name = strtok_r(buf, ":", &save), *shape = strtok_r(NULL, ":", &save),
         *type = strtok_r(NULL, ":", &save), *extra = strtok_r(NULL, ":", &save);
    if (!name || !shape || !type || extra)
        return fm_err_set(err, FM_EINVAL, "tensor '%s': expected NAME:DIMxDIM...:TYPE", spec);
    int ti = -1;
    for (int i = 0; i < (int)FM_ARRAY_LEN(types); i++)
        if (strcmp(type, types[i]) == 0)
            ti = i;
    if (ti < 0)
        return fm_err_set(err, FM_EINVAL,
                          "tensor '%s': unsupported type '%s' (FP32, FP64, INT32, INT64, UINT8)",
                          spec, type);
    int64_t dims[8];
    int nd = 0;
    uint64_t elems = 1;
    for (char *s2, *d = strtok_r(shape, "x", &s2); d; d = strtok_r(NULL, "x", &s2)) {
        if (nd == 8 || fm_parse_i64(d, &dims[nd]) || dims[nd] < 1 ||
            (elems *= (uint64_t)dims[nd]) > TENSOR_MAX_ELEMS)
            return fm_err_set(err, FM_EINVAL,
                              "tensor '%s': bad shape (1 to 8 positive dims, at most %u "
                              "elements)",
                              spec, TENSOR_MAX_ELEMS);
        nd++;
    }
    if (nd == 0)
        return fm_err_set(err, FM_EINVAL, "tensor '%s': empty shape", spec);
    fm_rng root, r;
    fm_rng_seed(&root, seed);
    r = fm_rng_split(&root, 0x74656e73 /* "tens" */);
    sbuf b = {0};
    char tmp[600];
    fm_json_quote(tmp, sizeof tmp, name);
    sb_str(&b, "{\"inputs\":[{\"name\":");
    sb_str(&b, tmp);
    sb_str(&b, ",\"shape\":[");
    for (int i = 0; i < nd; i++) {
        snprintf(tmp, sizeof tmp, "%s%lld", i ? "," : "", (long long)dims[i]);
        sb_str(&b, tmp);
    }
    snprintf(tmp, sizeof tmp, "],\"datatype\":\"%s\",\"data\":[", types[ti]);
    sb_str(&b, tmp);
    for (uint64_t i = 0; i < elems && !b.oom; i++) {
        int n;
        if (ti <= 1)
            n = snprintf(tmp, sizeof tmp, "%s%.6g", i ? "," : "", fm_rng_uniform(&r));
        else
            n = snprintf(tmp, sizeof tmp, "%s%llu", i ? "," : "",
                         (unsigned long long)fm_rng_below(&r, ti == 4 ? 256 : 100));
        sb_put(&b, tmp, (size_t)n);
    }
    sb_str(&b, "]}]}");
    load_payloads *p = b.oom ? NULL : payloads_alloc(LOAD_PICK_ROUND_ROBIN, seed);
    if (!p || payloads_add(p, b.p, b.n)) {
        free(b.p);
        load_payloads_free(p);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    *out = p;
    return 0;
}
