/*
 * packcache.c — the packed-weight cache: weights already reordered into the layout the session's
 * oneDNN primitives want, kept in one file, so that a new process maps them (MAP_SHARED,
 * read-only: every instance of a model shares the same page-cache pages) instead of reordering
 * every weight again.
 *
 * Where: beside the model as "<model>.fmpack", or "<dir>/<model file name>.fmpack" when the
 * session options (or $FM_INFER_PACK_CACHE) name a directory; "off" turns the cache off.
 *
 * File layout (little-endian, as this machine writes it; the key makes another machine's file
 * stale):
 *   pack_hdr                  magic, format version, key, entry count, file size, checksum
 *   pack_ent[n_entries]       per entry: source value, format key and data offsets and sizes
 *   format keys, data         data 64-byte aligned
 * The key is the model's content hash and size, the runtime version (faasml, cache format and
 * oneDNN) and the CPU features oneDNN chooses its formats by. The checksum (XXH3-64) covers the
 * whole file with the checksum field as zero. A file that fails any check is reported, never
 * used, and replaced by the session that finds it (written to a temporary name, then renamed).
 *
 * Layer: called by session.c (open, commit, free) and by the weight reorders (find, note).
 */
#include <dnnl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "infer/infer_int.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static const char pack_magic[8] = {'F', 'M', 'P', 'A', 'C', 'K', '\r', '\n'};

/* Why: a pending entry is a weight this session reordered itself: written at commit. */
typedef struct pack_new {
    uint32_t value;
    void *key;
    size_t key_bytes;
    const void *data;
    size_t bytes;
} pack_new;

struct packcache {
    char *path;   /* the cache file; NULL when the cache is off */
    pack_key key; /* what a valid file must say */
    void *map;    /* the valid file, mapped read-only; NULL when none */
    size_t map_len;
    pack_view view; /* entries of map */
    pack_new *pend; /* weights reordered by this session */
    size_t n_pend, cap_pend;
    size_t hits;
    infer_pack_state state; /* what open found */
    bool committed;         /* written (or nothing to write): later reorders are not noted */
    bool written;
};

/* Why: oneDNN picks weight formats by ISA; the feature words it reads, plus the variables that
 * cap its ISA, decide the layout a file holds. */
uint64_t infer__packcache_cpu_key(void)
{
    uint32_t w[8] = {0};
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        w[0] = c;
        w[1] = d;
    }
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        w[2] = b;
        w[3] = c;
        w[4] = d;
    }
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d))
        w[5] = a;
    if (w[0] & (1u << 27)) { /* OSXSAVE: which register states the OS saves */
        uint32_t lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        w[6] = lo;
        w[7] = hi;
    }
#endif
    XXH3_state_t *st = XXH3_createState();
    if (!st)
        return 0;
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, w, sizeof w);
    const char *env[] = {"ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "ONEDNN_CPU_ISA_HINTS"};
    for (size_t i = 0; i < FM_ARRAY_LEN(env); i++) {
        const char *v = getenv(env[i]);
        XXH3_64bits_update(st, v ? v : "", v ? strlen(v) + 1 : 1);
    }
    uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}

static void packcache_runtime(char out[PACK_RUNTIME_LEN])
{
    const dnnl_version_t *v = dnnl_version();
    memset(out, 0, PACK_RUNTIME_LEN);
    snprintf(out, PACK_RUNTIME_LEN, "faasml %s pack %d onednn %d.%d.%d", FM_VERSION, PACK_FORMAT,
             v->major, v->minor, v->patch);
}

/* Why: the checksum skips its own field, so the writer can compute it over the finished image. */
uint64_t infer__packcache_checksum(const void *buf, size_t len)
{
    XXH3_state_t *st = XXH3_createState();
    if (!st)
        return 0;
    pack_hdr h;
    memcpy(&h, buf, sizeof h);
    h.checksum = 0;
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, &h, sizeof h);
    XXH3_64bits_update(st, (const uint8_t *)buf + sizeof h, len - sizeof h);
    uint64_t sum = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return sum;
}

/* Why: one reader for the session and the fuzzer; every offset and size is checked against the
 * file before anything points into it, and the key decides stale (FM_ESTATE) from corrupt. */
int infer__packcache_parse(const void *buf, size_t len, const pack_key *want, pack_view *out,
                           fm_err *err)
{
    memset(out, 0, sizeof *out);
    pack_hdr h;
    if (len < sizeof h)
        return fm_err_set(err, FM_EPARSE, "truncated: %zu bytes, the header needs %zu", len,
                          sizeof h);
    memcpy(&h, buf, sizeof h);
    if (memcmp(h.magic, pack_magic, sizeof pack_magic))
        return fm_err_set(err, FM_EPARSE, "not a packed-weight cache (bad magic)");
    if (h.version != PACK_FORMAT)
        return fm_err_set(err, FM_ESTATE, "format version %u, this runtime reads %d", h.version,
                          PACK_FORMAT);
    if (h.file_bytes != len)
        return fm_err_set(err, FM_EPARSE, "truncated: header says %llu bytes, file has %zu",
                          (unsigned long long)h.file_bytes, len);
    size_t room = (len - sizeof h) / sizeof(pack_ent);
    if (h.n_entries > room)
        return fm_err_set(err, FM_EPARSE, "%u entries do not fit in %zu bytes", h.n_entries, len);
    const uint8_t *base = buf;
    size_t table_end = sizeof h + (size_t)h.n_entries * sizeof(pack_ent);
    for (uint32_t i = 0; i < h.n_entries; i++) {
        pack_ent e;
        memcpy(&e, base + sizeof h + (size_t)i * sizeof e, sizeof e);
        if (e.key_off < table_end || e.key_off > len || e.key_bytes > len - e.key_off)
            return fm_err_set(err, FM_EPARSE, "entry %u: format key outside the file", i);
        if (e.data_off < table_end || e.data_off > len || e.data_bytes > len - e.data_off ||
            e.data_off % 64)
            return fm_err_set(err, FM_EPARSE, "entry %u: data outside the file or unaligned", i);
    }
    if (infer__packcache_checksum(buf, len) != h.checksum)
        return fm_err_set(err, FM_EPARSE, "checksum mismatch");
    if (h.model_bytes != want->model_bytes || h.model_hash != want->model_hash)
        return fm_err_set(err, FM_ESTATE, "written for another model (hash %016llx)",
                          (unsigned long long)h.model_hash);
    if (memcmp(h.runtime, want->runtime, sizeof h.runtime))
        return fm_err_set(err, FM_ESTATE, "written by another runtime ('%.*s')",
                          (int)strnlen(h.runtime, sizeof h.runtime), h.runtime);
    if (h.cpu_key != want->cpu_key)
        return fm_err_set(err, FM_ESTATE, "written for other CPU features (%016llx, here %016llx)",
                          (unsigned long long)h.cpu_key, (unsigned long long)want->cpu_key);
    out->base = base;
    out->ents = (const pack_ent *)(base + sizeof h); /* 8-aligned: the header is */
    out->n = h.n_entries;
    return 0;
}

/* Why: the file name follows the model's, so a model and its cache travel together. */
static char *cache_path(const infer_model *m, const char *dir)
{
    if (dir && (!strcmp(dir, "off") || !strcmp(dir, "0")))
        return NULL;
    const char *base = strrchr(m->label, '/');
    base = base ? base + 1 : m->label;
    size_t n = (dir ? strlen(dir) + 1 + strlen(base) : strlen(m->label)) + sizeof ".fmpack";
    char *p = malloc(n);
    if (!p)
        return NULL;
    if (dir)
        snprintf(p, n, "%s/%s.fmpack", dir, base);
    else
        snprintf(p, n, "%s.fmpack", m->label);
    return p;
}

/* Why: the model hash covers every byte the weights come from (the file and its external data). */
static uint64_t model_hash(const infer_model *m, uint64_t *bytes)
{
    XXH3_state_t *st = XXH3_createState();
    if (!st)
        return 0;
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, m->map, m->map_len);
    *bytes = m->map_len;
    for (size_t i = 0; i < m->n_ext; i++) {
        XXH3_64bits_update(st, m->ext_maps[i], m->ext_lens[i]);
        *bytes += m->ext_lens[i];
    }
    uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}

int infer__packcache_open(const infer_model *m, const char *dir, packcache **out)
{
    *out = NULL;
    if (!m->mapped)
        return 0; /* a model from a buffer has no place for a cache */
    packcache *c = calloc(1, sizeof *c);
    if (!c)
        return FM_ENOMEM;
    c->path = cache_path(m, dir);
    if (!c->path) {
        c->state = INFER_PACK_OFF;
        *out = c;
        return 0;
    }
    c->key.model_hash = model_hash(m, &c->key.model_bytes);
    c->key.cpu_key = infer__packcache_cpu_key();
    packcache_runtime(c->key.runtime);
    c->state = INFER_PACK_MISSING;
    *out = c;
    int fd = open(c->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0) {
        close(fd);
        c->state = INFER_PACK_CORRUPT;
        FM_INFO("infer", "packed-weight cache '%s' not used: not a regular file or empty", c->path);
        return 0;
    }
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return 0;
    fm_err e = {0};
    int rc = infer__packcache_parse(p, (size_t)sb.st_size, &c->key, &c->view, &e);
    if (rc) {
        munmap(p, (size_t)sb.st_size);
        c->state = rc == FM_ESTATE ? INFER_PACK_STALE : INFER_PACK_CORRUPT;
        FM_INFO("infer", "packed-weight cache '%s' not used: %s", c->path, e.msg);
        return 0;
    }
    c->map = p;
    c->map_len = (size_t)sb.st_size;
    c->state = INFER_PACK_VALID;
    return 0;
}

const void *infer__packcache_find(packcache *c, int value, const void *key, size_t key_bytes,
                                  size_t bytes)
{
    if (!c || !c->map)
        return NULL;
    for (size_t i = 0; i < c->view.n; i++) {
        pack_ent e;
        memcpy(&e, &c->view.ents[i], sizeof e);
        if (e.value == (uint32_t)value && e.key_bytes == key_bytes && e.data_bytes == bytes &&
            !memcmp(c->view.base + e.key_off, key, key_bytes)) {
            c->hits++;
            return c->view.base + e.data_off;
        }
    }
    return NULL;
}

void infer__packcache_note(packcache *c, int value, const void *key, size_t key_bytes,
                           const void *data, size_t bytes)
{
    if (!c || !c->path || c->committed || value < 0)
        return;
    if (c->n_pend == c->cap_pend) {
        size_t cap = c->cap_pend ? c->cap_pend * 2 : 32;
        pack_new *p = realloc(c->pend, cap * sizeof *p);
        if (!p)
            return; /* the cache is an optimisation: this weight is simply not written */
        c->pend = p;
        c->cap_pend = cap;
    }
    void *k = malloc(key_bytes);
    if (!k)
        return;
    memcpy(k, key, key_bytes);
    c->pend[c->n_pend++] = (pack_new){(uint32_t)value, k, key_bytes, data, bytes};
}

/* Why: entries found in the mapped file and entries packed now go into one new file. */
static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -errno;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int build_image(const packcache *c, uint8_t **out, size_t *out_len)
{
    size_t n = c->n_pend + (c->map ? c->view.n : 0);
    if (n > UINT32_MAX)
        return FM_ELIMIT;
    size_t off = sizeof(pack_hdr) + n * sizeof(pack_ent);
    size_t keys = off;
    for (size_t i = 0; i < c->n_pend; i++)
        off += c->pend[i].key_bytes;
    for (size_t i = 0; c->map && i < c->view.n; i++)
        off += c->view.ents[i].key_bytes;
    size_t data = (off + 63) & ~(size_t)63, end = data;
    for (size_t i = 0; i < c->n_pend; i++)
        end += (c->pend[i].bytes + 63) & ~(size_t)63;
    for (size_t i = 0; c->map && i < c->view.n; i++)
        end += (c->view.ents[i].data_bytes + 63) & ~(size_t)63;
    uint8_t *img = calloc(1, end);
    if (!img)
        return FM_ENOMEM;
    pack_hdr h = {.version = PACK_FORMAT,
                  .n_entries = (uint32_t)n,
                  .file_bytes = end,
                  .model_hash = c->key.model_hash,
                  .model_bytes = c->key.model_bytes,
                  .cpu_key = c->key.cpu_key};
    memcpy(h.magic, pack_magic, sizeof h.magic);
    memcpy(h.runtime, c->key.runtime, sizeof h.runtime);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        pack_ent e;
        const void *kp, *dp;
        if (i < c->n_pend) {
            const pack_new *p = &c->pend[i];
            e = (pack_ent){p->value, (uint32_t)p->key_bytes, 0, 0, p->bytes};
            kp = p->key;
            dp = p->data;
        } else {
            memcpy(&e, &c->view.ents[i - c->n_pend], sizeof e);
            kp = c->view.base + e.key_off;
            dp = c->view.base + e.data_off;
        }
        e.key_off = keys;
        memcpy(img + keys, kp, e.key_bytes);
        keys += e.key_bytes;
        e.data_off = data;
        memcpy(img + data, dp, e.data_bytes);
        data += (e.data_bytes + 63) & ~(size_t)63;
        memcpy(img + sizeof h + k++ * sizeof e, &e, sizeof e);
    }
    memcpy(img, &h, sizeof h);
    h.checksum = infer__packcache_checksum(img, end);
    memcpy(img, &h, sizeof h);
    *out = img;
    *out_len = end;
    return 0;
}

int infer__packcache_commit(packcache *c, fm_err *err)
{
    if (!c || !c->path || c->committed)
        return 0;
    c->committed = true;
    if (!c->n_pend)
        return 0;
    uint8_t *img = NULL;
    size_t len = 0;
    int rc = build_image(c, &img, &len);
    if (rc)
        return fm_err_set(err, rc, "cannot write packed-weight cache '%s': %s", c->path,
                          fm_strerror(rc));
    size_t tn = strlen(c->path) + 32;
    char *tmp = malloc(tn);
    if (!tmp) {
        free(img);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    snprintf(tmp, tn, "%s.tmp.%ld", c->path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        rc = -errno;
    else {
        rc = write_all(fd, img, len);
        if (close(fd) < 0 && !rc)
            rc = -errno;
        if (!rc && rename(tmp, c->path) < 0)
            rc = -errno;
        if (rc)
            unlink(tmp);
    }
    free(tmp);
    free(img);
    if (rc)
        return fm_err_set(err, rc, "cannot write packed-weight cache '%s': %s", c->path,
                          strerror(-rc));
    c->written = true;
    return 0;
}

void infer__packcache_stats(const packcache *c, infer_session_stats *st)
{
    st->pack_cache = c ? c->state : INFER_PACK_OFF;
    st->pack_written = c && c->written;
    st->pack_hits = c ? c->hits : 0;
    st->pack_misses = c ? c->n_pend : 0;
    st->pack_mapped_bytes = c ? c->map_len : 0;
}

void infer__packcache_free(packcache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_pend; i++)
        free(c->pend[i].key);
    free(c->pend);
    if (c->map)
        munmap(c->map, c->map_len);
    free(c->path);
    free(c);
}
