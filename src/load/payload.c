/* Request bodies: a file, every file of a directory (picked round-robin or at random with a
 * seeded stream), a literal, or a generated KServe v2 tensor (JSON or the binary extension). All
 * bodies are loaded before the run so the timing loop never touches the disk. */
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

/* A parsed "NAME:DIMxDIM...:TYPE" spec. */
typedef struct tensor_spec {
    char name[256];
    int64_t dims[8];
    int nd;
    uint64_t elems;
    int type; /* index into tensor_types */
} tensor_spec;

static const char *const tensor_types[] = {"FP32", "FP64", "INT32", "INT64", "UINT8"};
static const size_t tensor_type_size[] = {4, 8, 4, 8, 1};

static int tensor_spec_parse(const char *spec, tensor_spec *t, fm_err *err)
{
    char buf[256], *save;
    snprintf(buf, sizeof buf, "%s", spec);
    char *name = strtok_r(buf, ":", &save), *shape = strtok_r(NULL, ":", &save),
         *type = strtok_r(NULL, ":", &save), *extra = strtok_r(NULL, ":", &save);
    if (!name || !shape || !type || extra)
        return fm_err_set(err, FM_EINVAL, "tensor '%s': expected NAME:DIMxDIM...:TYPE", spec);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = -1;
    for (int i = 0; i < (int)FM_ARRAY_LEN(tensor_types); i++)
        if (strcmp(type, tensor_types[i]) == 0)
            t->type = i;
    if (t->type < 0)
        return fm_err_set(err, FM_EINVAL,
                          "tensor '%s': unsupported type '%s' (FP32, FP64, INT32, INT64, UINT8)",
                          spec, type);
    t->nd = 0;
    t->elems = 1;
    for (char *s2, *d = strtok_r(shape, "x", &s2); d; d = strtok_r(NULL, "x", &s2)) {
        if (t->nd == 8 || fm_parse_i64(d, &t->dims[t->nd]) || t->dims[t->nd] < 1 ||
            (t->elems *= (uint64_t)t->dims[t->nd]) > TENSOR_MAX_ELEMS)
            return fm_err_set(err, FM_EINVAL,
                              "tensor '%s': bad shape (1 to 8 positive dims, at most %u "
                              "elements)",
                              spec, TENSOR_MAX_ELEMS);
        t->nd++;
    }
    if (t->nd == 0)
        return fm_err_set(err, FM_EINVAL, "tensor '%s': empty shape", spec);
    return 0;
}

/* Why one stream for both encodings: the JSON and the binary body of the same spec and seed
 * carry the same values (the JSON ones printed with %.6g), so a run can switch encodings without
 * changing what the model computes on. */
static fm_rng tensor_rng(uint64_t seed)
{
    fm_rng root;
    fm_rng_seed(&root, seed);
    return fm_rng_split(&root, 0x74656e73 /* "tens" */);
}

/* The v2 request header up to the data (JSON) or the whole header (binary: binary_data_size). */
static void tensor_header(sbuf *b, const tensor_spec *t, bool binary)
{
    char tmp[600];
    fm_json_quote(tmp, sizeof tmp, t->name);
    sb_str(b, "{\"inputs\":[{\"name\":");
    sb_str(b, tmp);
    sb_str(b, ",\"shape\":[");
    for (int i = 0; i < t->nd; i++) {
        snprintf(tmp, sizeof tmp, "%s%lld", i ? "," : "", (long long)t->dims[i]);
        sb_str(b, tmp);
    }
    if (binary)
        snprintf(tmp, sizeof tmp,
                 "],\"datatype\":\"%s\",\"parameters\":{\"binary_data_size\":%llu}}]}",
                 tensor_types[t->type], (unsigned long long)(t->elems * tensor_type_size[t->type]));
    else
        snprintf(tmp, sizeof tmp, "],\"datatype\":\"%s\",\"data\":[", tensor_types[t->type]);
    sb_str(b, tmp);
}

static int payloads_one(sbuf *b, uint64_t seed, load_payloads **out, fm_err *err)
{
    load_payloads *p = b->oom ? NULL : payloads_alloc(LOAD_PICK_ROUND_ROBIN, seed);
    if (!p || payloads_add(p, b->p, b->n)) {
        free(b->p);
        load_payloads_free(p);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    *out = p;
    return 0;
}

/* One body: JSON prints each value (%.6g for floats); binary writes the same value, read back
 * from that text, little-endian as the extension says. */
static int tensor_payload(const char *spec, uint64_t seed, bool binary, load_payloads **out,
                          size_t *header_len, fm_err *err)
{
    *out = NULL;
    tensor_spec t;
    int rc = tensor_spec_parse(spec, &t, err);
    if (rc)
        return rc;
    fm_rng r = tensor_rng(seed);
    sbuf b = {0};
    tensor_header(&b, &t, binary);
    if (binary)
        *header_len = b.n;
    size_t sz = tensor_type_size[t.type];
    for (uint64_t i = 0; i < t.elems && !b.oom; i++) {
        bool fp = t.type <= 1;
        char g[32];
        uint64_t u = 0;
        if (fp)
            snprintf(g, sizeof g, "%.6g", fm_rng_uniform(&r));
        else
            u = fm_rng_below(&r, t.type == 4 ? 256 : 100);
        if (!binary) {
            char tmp[64];
            int n = fp ? snprintf(tmp, sizeof tmp, "%s%s", i ? "," : "", g)
                       : snprintf(tmp, sizeof tmp, "%s%llu", i ? "," : "", (unsigned long long)u);
            sb_put(&b, tmp, (size_t)n);
            continue;
        }
        if (t.type == 0) {
            float f = strtof(g, NULL);
            uint32_t w;
            memcpy(&w, &f, 4);
            u = w;
        } else if (t.type == 1) {
            double d = strtod(g, NULL);
            memcpy(&u, &d, 8);
        }
        unsigned char v[8];
        for (size_t k = 0; k < sz; k++)
            v[k] = (unsigned char)(u >> (8 * k));
        sb_put(&b, (const char *)v, sz);
    }
    if (!binary)
        sb_str(&b, "]}]}");
    return payloads_one(&b, seed, out, err);
}

int load_payloads_tensor(const char *spec, uint64_t seed, load_payloads **out, fm_err *err)
{
    return tensor_payload(spec, seed, false, out, NULL, err);
}

int load_payloads_tensor_binary(const char *spec, uint64_t seed, load_payloads **out,
                                size_t *header_len, fm_err *err)
{
    return tensor_payload(spec, seed, true, out, header_len, err);
}
