/*
 * tensor.c — ONNX TensorProto: dims, type and data (raw_data in place when aligned, typed fields
 * decoded, external data mapped from beside the model). Shared by initializers, Constant nodes
 * and the test-data .pb files. Every size is checked before anything is allocated.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "infer/infer_int.h"

/* ---- tensors -------------------------------------------------------------------------------- */

bool infer__onnx_dtype_known(int64_t t)
{
    return t > 0 && t < 32 && infer_dtype_size((infer_dtype)t) > 0;
}

/* ---- external data: opened beneath the model directory (delimited; owned with src/platform's
 * sandbox work) ------------------------------------------------------------------------------- */

/* Why: a lexical check misses a symlink inside the model directory that points out of it; the
 * kernel resolves loc with RESOLVE_BENEATH (no step above dir, no absolute symlink, no magic
 * link). Kernels before 5.6 lack openat2: the opened file's real path must then lie under the
 * directory's. Returns the fd, or -1 with errno (EXDEV: it leaves the directory). */
static int open_beneath(const char *dir, const char *loc)
{
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, dfd, loc, &how, sizeof how);
    if (fd >= 0 || errno != ENOSYS) {
        int e = errno;
        close(dfd);
        errno = e;
        return fd;
    }
    fd = openat(dfd, loc, O_RDONLY | O_CLOEXEC);
    close(dfd);
    if (fd < 0)
        return -1;
    char link[64], *real_dir = realpath(dir, NULL), real[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, real, sizeof real - 1);
    size_t dl = real_dir ? strlen(real_dir) : 0;
    bool inside =
        real_dir && n > (ssize_t)dl && strncmp(real, real_dir, dl) == 0 && real[dl] == '/';
    free(real_dir);
    if (!inside) {
        close(fd);
        errno = EXDEV;
        return -1;
    }
    return fd;
}

/* Why: external data must stay inside the model's directory; "../" or absolute paths are refused
 * lexically, symlinks out of it by open_beneath. */
static int map_external(infer_model *m, const char *loc, const uint8_t **base, size_t *len,
                        fm_err *err)
{
    if (!m->dir)
        return fm_err_set(err, FM_EUNSUPPORTED, "external data '%s' needs a model file", loc);
    if (loc[0] == '/' || strstr(loc, ".."))
        return fm_err_set(err, FM_EINVAL, "external data path '%s' leaves the model directory",
                          loc);
    int fd = open_beneath(m->dir, loc);
    if (fd < 0 && errno == EXDEV)
        return fm_err_set(err, FM_EINVAL, "external data path '%s' leaves the model directory",
                          loc);
    if (fd < 0)
        return fm_err_set(err, FM_EIO, "cannot open external data '%s': %s", loc, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size == 0) {
        close(fd);
        return fm_err_set(err, FM_EIO, "external data '%s' is not a readable file", loc);
    }
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return fm_err_set(err, FM_EIO, "cannot map external data '%s'", loc);
    void **maps = realloc(m->ext_maps, (m->n_ext + 1) * sizeof *maps);
    size_t *lens = maps ? realloc(m->ext_lens, (m->n_ext + 1) * sizeof *lens) : NULL;
    if (maps)
        m->ext_maps = maps;
    if (!lens) {
        munmap(p, (size_t)sb.st_size);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    m->ext_lens = lens;
    m->ext_maps[m->n_ext] = p;
    m->ext_lens[m->n_ext++] = (size_t)sb.st_size;
    *base = p;
    *len = (size_t)sb.st_size;
    return 0;
}

/* Why: typed repeated fields (float_data, int64_data, ...) decode into dense little-endian data. */
static int decode_typed(const uint8_t *msg, size_t len, infer_dtype dt, uint8_t *out, size_t n,
                        fm_err *err)
{
    pb_rd r = {msg, msg + len};
    pb_field f;
    int rc;
    size_t k = 0, esz = infer_dtype_size(dt);
    while ((rc = infer__pb_next(&r, &f)) == 1) {
        bool want = (f.num == 4 && (dt == INFER_DTYPE_FP32)) ||
                    (f.num == 5 && (dt == INFER_DTYPE_INT32 || dt == INFER_DTYPE_INT16 ||
                                    dt == INFER_DTYPE_INT8 || dt == INFER_DTYPE_UINT16 ||
                                    dt == INFER_DTYPE_UINT8 || dt == INFER_DTYPE_BOOL ||
                                    dt == INFER_DTYPE_FP16 || dt == INFER_DTYPE_BF16)) ||
                    (f.num == 7 && dt == INFER_DTYPE_INT64) ||
                    (f.num == 10 && dt == INFER_DTYPE_FP64) ||
                    (f.num == 11 && (dt == INFER_DTYPE_UINT32 || dt == INFER_DTYPE_UINT64));
        if (!want)
            continue;
        if (f.num == 4 || f.num == 10) { /* fixed-width */
            size_t w = f.num == 4 ? 4 : 8;
            if (f.wt == 2) {
                if (f.len % w)
                    return fm_err_set(err, FM_EPARSE, "packed field length %zu", f.len);
                size_t cnt = f.len / w;
                if (cnt > n - k)
                    return fm_err_set(err, FM_EPARSE, "more values than dims allow");
                memcpy(out + k * w, f.ptr, f.len);
                k += cnt;
            } else if ((f.wt == 5 && w == 4) || (f.wt == 1 && w == 8)) {
                if (k >= n)
                    return fm_err_set(err, FM_EPARSE, "more values than dims allow");
                memcpy(out + k * w, &f.v, w);
                k++;
            } else
                return fm_err_set(err, FM_EPARSE, "bad wire type for tensor data");
            continue;
        }
        size_t cnt = 0;
        if (infer__pb_varints(&f, NULL, &cnt))
            return fm_err_set(err, FM_EPARSE, "bad varint data");
        if (cnt > n - k)
            return fm_err_set(err, FM_EPARSE, "more values than dims allow");
        int64_t *tmp = malloc((cnt ? cnt : 1) * sizeof *tmp);
        if (!tmp)
            return fm_err_set(err, FM_ENOMEM, "out of memory");
        size_t c2 = 0;
        infer__pb_varints(&f, tmp, &c2);
        for (size_t j = 0; j < cnt; j++, k++) {
            int64_t v = tmp[j];
            switch (esz) {
            case 1: {
                uint8_t x = (uint8_t)v;
                memcpy(out + k, &x, 1);
                break;
            }
            case 2: {
                uint16_t x = (uint16_t)v;
                memcpy(out + 2 * k, &x, 2);
                break;
            }
            case 4: {
                uint32_t x = (uint32_t)v;
                memcpy(out + 4 * k, &x, 4);
                break;
            }
            default: memcpy(out + 8 * k, &v, 8);
            }
        }
        free(tmp);
    }
    if (rc < 0)
        return fm_err_set(err, FM_EPARSE, "malformed tensor");
    if (k != n)
        return fm_err_set(err, FM_EPARSE, "tensor holds %zu values, dims need %zu", k, n);
    return 0;
}

/* Why: initializers, Constant values and test .pb files share one TensorProto reader. Data that is
 * aligned in the mapping is used in place (zero copy); the rest is copied into alloc(). */
int infer__onnx_read_tensor(infer_model *m, const uint8_t *msg, size_t len, tensor_fields *tf,
                            const void **data, size_t *bytes, void *(*alloc)(void *, size_t),
                            void *actx, fm_err *err)
{
    memset(tf, 0, sizeof *tf);
    tf->ext_offset = 0;
    tf->ext_length = -1;
    pb_rd r = {msg, msg + len};
    pb_field f;
    int rc;
    const char *ext_off = NULL, *ext_len = NULL;
    while ((rc = infer__pb_next(&r, &f)) == 1) {
        switch (f.num) {
        case 1: {
            size_t n = 0;
            if (infer__pb_varints(&f, NULL, &n))
                return fm_err_set(err, FM_EPARSE, "bad tensor dims");
            if ((size_t)tf->ndim + n > INFER_MAX_DIMS)
                return fm_err_set(err, FM_EUNSUPPORTED, "tensor of rank > %d", INFER_MAX_DIMS);
            size_t k = (size_t)tf->ndim;
            infer__pb_varints(&f, tf->dims, &k);
            tf->ndim = (int)k;
            break;
        }
        case 2: tf->dtype = (int64_t)f.v; break;
        case 8:
            if (f.wt != 2)
                return fm_err_set(err, FM_EPARSE, "bad tensor name");
            tf->name = m ? infer__onnx_name(m, f.ptr, f.len) : NULL;
            break;
        case 9:
            if (f.wt != 2)
                return fm_err_set(err, FM_EPARSE, "bad raw_data");
            tf->raw = f.ptr;
            tf->raw_len = f.len;
            tf->has_raw = true;
            break;
        case 14: tf->external = f.v == 1; break;
        case 13: {
            if (f.wt != 2)
                return fm_err_set(err, FM_EPARSE, "bad external_data");
            pb_rd e = {f.ptr, f.ptr + f.len};
            pb_field g;
            const uint8_t *k = NULL, *v = NULL;
            size_t kl = 0, vl = 0;
            int rc2;
            while ((rc2 = infer__pb_next(&e, &g)) == 1) {
                if (g.wt != 2)
                    continue;
                if (g.num == 1)
                    k = g.ptr, kl = g.len;
                if (g.num == 2)
                    v = g.ptr, vl = g.len;
            }
            if (rc2 < 0 || !k || !v || !m)
                return fm_err_set(err, FM_EPARSE, "bad external_data entry");
            char *val = infer__onnx_name(m, v, vl);
            if (!val)
                return fm_err_set(err, FM_ENOMEM, "out of memory");
            if (kl == 8 && !memcmp(k, "location", 8))
                tf->location = val;
            else if (kl == 6 && !memcmp(k, "offset", 6))
                ext_off = val;
            else if (kl == 6 && !memcmp(k, "length", 6))
                ext_len = val;
            break;
        }
        case 3: return fm_err_set(err, FM_EUNSUPPORTED, "segmented tensors");
        case 6: return fm_err_set(err, FM_EUNSUPPORTED, "string tensors");
        default: break;
        }
    }
    if (rc < 0)
        return fm_err_set(err, FM_EPARSE, "malformed tensor");
    if (!infer__onnx_dtype_known(tf->dtype))
        return fm_err_set(err, FM_EUNSUPPORTED, "tensor data type %lld", (long long)tf->dtype);
    int64_t n = 1;
    for (int i = 0; i < tf->ndim; i++) {
        if (tf->dims[i] < 0 || __builtin_mul_overflow(n, tf->dims[i], &n))
            return fm_err_set(err, FM_ERANGE, "tensor dims out of range");
    }
    size_t esz = infer_dtype_size((infer_dtype)tf->dtype);
    size_t nb;
    if ((uint64_t)n > SIZE_MAX / esz)
        return fm_err_set(err, FM_ERANGE, "tensor size overflows");
    nb = (size_t)n * esz;
    *bytes = nb;
    const uint8_t *src = NULL;
    if (tf->external) {
        if (!tf->location)
            return fm_err_set(err, FM_EPARSE, "external data without location");
        if (ext_off && (fm_parse_i64(ext_off, &tf->ext_offset) || tf->ext_offset < 0))
            return fm_err_set(err, FM_EPARSE, "bad external data offset '%s'", ext_off);
        if (ext_len && (fm_parse_i64(ext_len, &tf->ext_length) || tf->ext_length < 0))
            return fm_err_set(err, FM_EPARSE, "bad external data length '%s'", ext_len);
        const uint8_t *base = NULL;
        size_t blen = 0;
        int e = map_external(m, tf->location, &base, &blen, err);
        if (e)
            return e;
        if ((uint64_t)tf->ext_offset > blen || nb > blen - (size_t)tf->ext_offset ||
            (tf->ext_length >= 0 && (uint64_t)tf->ext_length != nb))
            return fm_err_set(err, FM_ERANGE, "external data '%s' too short or wrong length",
                              tf->location);
        src = base + tf->ext_offset;
    } else if (tf->has_raw) {
        if (tf->raw_len != nb)
            return fm_err_set(err, FM_EPARSE, "raw_data holds %zu bytes, dims need %zu",
                              tf->raw_len, nb);
        src = tf->raw;
    }
    if (src && (uintptr_t)src % 16 == 0) {
        *data = src; /* aligned: zero copy */
        return 0;
    }
    if (!src && (uint64_t)n > len) /* typed values take at least one byte each */
        return fm_err_set(err, FM_EPARSE, "tensor holds fewer values than its dims need");
    void *dst = alloc(actx, nb ? nb : 1);
    if (!dst)
        return fm_err_set(err, FM_ENOMEM, "out of memory for %zu bytes", nb);
    if (src) {
        memcpy(dst, src, nb);
    } else {
        int e = decode_typed(msg, len, (infer_dtype)tf->dtype, dst, (size_t)n, err);
        if (e)
            return e;
    }
    *data = dst;
    return 0;
}

static void *malloc_cb(void *unused, size_t n)
{
    (void)unused;
    return malloc(n);
}

/* Why: the node-test runner and tools read TensorProto .pb files into dense, owned tensors. */
int infer__onnx_parse_tensor_alloc(const void *buf, size_t len, infer_tensor *t, char **name,
                                   fm_err *err)
{
    tensor_fields tf;
    const void *data;
    size_t bytes;
    fm_arena tmp;
    fm_arena_init(&tmp, 4096);
    infer_model m = {0};
    m.arena = tmp;
    int rc = infer__onnx_read_tensor(&m, buf, len, &tf, &data, &bytes, malloc_cb, NULL, err);
    if (rc) {
        fm_arena_release(&m.arena);
        return rc;
    }
    memset(t, 0, sizeof *t);
    t->dtype = (infer_dtype)tf.dtype;
    t->ndim = tf.ndim;
    memcpy(t->dims, tf.dims, sizeof t->dims);
    t->bytes = bytes;
    if (data >= buf && (const uint8_t *)data <= (const uint8_t *)buf + len) {
        void *d = malloc(bytes ? bytes : 1);
        if (!d) {
            fm_arena_release(&m.arena);
            return fm_err_set(err, FM_ENOMEM, "out of memory");
        }
        memcpy(d, data, bytes);
        data = d;
    }
    t->data = (void *)data;
    if (name)
        *name = tf.name ? strdup(tf.name) : NULL;
    fm_arena_release(&m.arena);
    return 0;
}
