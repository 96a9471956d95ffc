/*
 * core — the bottom layer of faasml: error codes, logging, clocks, seeded RNG, arenas, growable
 * buffers, latency histograms and YAML spec loading. It knows nothing about models or platforms;
 * the HTTP plumbing every server and client shares (limits, a server guard, a client call) is in
 * core/http.h.
 */
#ifndef FM_CORE_H
#define FM_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FM_VERSION "0.1.0"

/* ---- errors ---------------------------------------------------------------------------------
 * One list generates the codes, fm_errname() and fm_strerror(). Codes are negative and far below
 * -4096 so that system errors can pass through unchanged as -errno. */
#define FM_ERRNO_MAP(X)                                                                            \
    X(NOMEM, "out of memory")                                                                      \
    X(INVAL, "invalid argument")                                                                   \
    X(IO, "input/output error")                                                                    \
    X(PARSE, "parse error")                                                                        \
    X(NOTFOUND, "not found")                                                                       \
    X(UNSUPPORTED, "unsupported")                                                                  \
    X(RANGE, "value out of range")                                                                 \
    X(EXISTS, "already exists")                                                                    \
    X(TIMEOUT, "timed out")                                                                        \
    X(BUSY, "busy")                                                                                \
    X(LIMIT, "limit exceeded")                                                                     \
    X(STATE, "invalid state")                                                                      \
    X(PROTO, "protocol error")                                                                     \
    X(SHAPE, "shape mismatch")                                                                     \
    X(TYPE, "type mismatch")                                                                       \
    X(SCHEMA, "schema mismatch")                                                                   \
    X(INTERNAL, "internal error")

enum {
    FM_OK = 0,
    FM__EBASE = -10000,
#define FM_XX(name, msg) FM_E##name,
    FM_ERRNO_MAP(FM_XX)
#undef FM_XX
        FM__ELAST
};

/* Name of a code ("FM_EPARSE", "ENOENT", "OK"); never NULL. */
const char *fm_errname(int code);
/* Human text for a code, including -errno codes; never NULL. */
const char *fm_strerror(int code);

/* An error a user must read: the code and a message naming the subject. Caller-allocated. */
typedef struct fm_err {
    int code;
    char msg[512];
} fm_err;

/* Sets *err (when err is not NULL) and returns code, so callers write `return fm_err_set(...)`. */
int fm_err_set(fm_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes err->msg with a context ("cannot load model 'x': " + old message). Returns err->code. */
int fm_err_prefix(fm_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fm_err_clear(fm_err *err);

/* ---- logging --------------------------------------------------------------------------------
 * Libraries log through a callback; the default writes logfmt lines to stderr. */
typedef enum fm_log_level {
    FM_LOG_DEBUG,
    FM_LOG_INFO,
    FM_LOG_WARN,
    FM_LOG_ERROR,
    FM_LOG_OFF
} fm_log_level;

typedef void (*fm_log_fn)(fm_log_level level, const char *module, const char *msg, void *ud);

void fm_log_set_handler(fm_log_fn fn, void *ud); /* NULL restores the default */
void fm_log_set_level(fm_log_level level);
fm_log_level fm_log_get_level(void);
int fm_log_level_parse(const char *s, fm_log_level *out); /* "debug|info|warn|error|off" */
const char *fm_log_level_name(fm_log_level level);
void fm_log(fm_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define FM_DEBUG(mod, ...) fm_log(FM_LOG_DEBUG, mod, __VA_ARGS__)
#define FM_INFO(mod, ...) fm_log(FM_LOG_INFO, mod, __VA_ARGS__)
#define FM_WARN(mod, ...) fm_log(FM_LOG_WARN, mod, __VA_ARGS__)
#define FM_ERROR(mod, ...) fm_log(FM_LOG_ERROR, mod, __VA_ARGS__)

/* ---- clocks (nanoseconds) ------------------------------------------------------------------ */
int64_t fm_now_ns(void);  /* CLOCK_MONOTONIC */
int64_t fm_wall_ns(void); /* CLOCK_REALTIME, ns since the Unix epoch */
void fm_sleep_ns(int64_t ns);

/* ---- seeded RNG -----------------------------------------------------------------------------
 * xoshiro256** seeded through splitmix64. Splitting derives an independent stream from a seed and
 * a stream id, so each component of a run draws from its own reproducible stream. */
typedef struct fm_rng {
    uint64_t s[4];
} fm_rng;

void fm_rng_seed(fm_rng *r, uint64_t seed);
fm_rng fm_rng_split(const fm_rng *r, uint64_t stream); /* does not advance r */
uint64_t fm_rng_u64(fm_rng *r);
uint64_t fm_rng_below(fm_rng *r, uint64_t n); /* uniform in [0, n), unbiased; n > 0 */
double fm_rng_uniform(fm_rng *r);             /* [0, 1), 53 random bits */
double fm_rng_exp(fm_rng *r, double rate);    /* exponential with the given rate (> 0) */
double fm_rng_normal(fm_rng *r, double mean, double sd);
double fm_rng_lognormal(fm_rng *r, double mu, double sigma);
/* Inverse of the standard normal CDF to full double precision; -inf/+inf at p <= 0 / p >= 1. */
double fm_norm_quantile(double p);

/* ---- arenas ---------------------------------------------------------------------------------
 * Bump allocation in chunks, freed all at once; one arena per lifetime (request, model, run). */
typedef struct fm_arena_chunk fm_arena_chunk;
typedef struct fm_arena {
    fm_arena_chunk *head;
    size_t chunk_size;
    size_t total; /* bytes handed out since init/reset */
} fm_arena;

void fm_arena_init(fm_arena *a, size_t chunk_size); /* 0 picks 64 KiB */
void fm_arena_release(fm_arena *a);                 /* frees every chunk */
void fm_arena_reset(fm_arena *a);                   /* keeps the first chunk */
void *fm_arena_alloc(fm_arena *a, size_t size);     /* 16-byte aligned; NULL when out of memory */
void *fm_arena_calloc(fm_arena *a, size_t n, size_t size); /* zeroed; checks n*size overflow */
char *fm_arena_strdup(fm_arena *a, const char *s);

/* ---- growable byte buffer --------------------------------------------------------------------
 * Bodies, encoders, messages. Zero-initialise, append, release. The text is kept NUL-terminated
 * (p[len] == 0 once anything was appended); every append returns 0 or FM_ENOMEM, and a failed
 * append leaves the buffer as it was. */
typedef struct fm_buf {
    char *p;
    size_t len, cap;
} fm_buf;

int fm_buf_append(fm_buf *b, const void *data, size_t n);
int fm_buf_puts(fm_buf *b, const char *s);
int fm_buf_printf(fm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int fm_buf_json_str(fm_buf *b, const char *s); /* appends s as a quoted JSON string */
/* Hands the bytes to the caller (malloc'd, NUL-terminated, never NULL unless out of memory) and
 * leaves b empty. */
char *fm_buf_take(fm_buf *b);
void fm_buf_release(fm_buf *b);

/* ---- latency histogram ----------------------------------------------------------------------
 * Log-linear buckets (HdrHistogram-style): values below 256 are exact, larger values fall into
 * 128 sub-buckets per power of two, so any reported percentile is within 0.4% of a true sample.
 * Mergeable by adding counts. Values are unsigned (ns, us, bytes...). */
#define FM_HIST_SUB_BITS 7
/* values below 2^(SUB_BITS+1) take one bucket each, then each of the 64-SUB_BITS-1 remaining
 * powers of two takes 2^SUB_BITS: (64 - SUB_BITS + 1) * 2^SUB_BITS buckets in all */
#define FM_HIST_BUCKETS ((64 - FM_HIST_SUB_BITS + 1) * (1 << FM_HIST_SUB_BITS))

typedef struct fm_hist {
    uint64_t count;
    uint64_t min, max;
    double sum;
    uint64_t buckets[FM_HIST_BUCKETS];
} fm_hist;

fm_hist *fm_hist_new(void); /* zeroed; NULL when out of memory */
void fm_hist_free(fm_hist *h);
void fm_hist_reset(fm_hist *h);
void fm_hist_add(fm_hist *h, uint64_t v);
void fm_hist_add_n(fm_hist *h, uint64_t v, uint64_t n);
void fm_hist_merge(fm_hist *dst, const fm_hist *src);
/* Value at quantile q in [0,1] (0 gives min, 1 gives max); 0 for an empty histogram. */
uint64_t fm_hist_quantile(const fm_hist *h, double q);
double fm_hist_mean(const fm_hist *h);

/* ---- YAML specs -----------------------------------------------------------------------------
 * A loaded YAML document with positions, for specs whose errors must name file:line:column.
 * Nodes are borrowed from the document and live until fm_yaml_free. */
typedef struct fm_yaml fm_yaml;
typedef struct fm_ynode fm_ynode;

typedef enum fm_ynode_kind { FM_YAML_SCALAR, FM_YAML_SEQ, FM_YAML_MAP } fm_ynode_kind;

int fm_yaml_load_file(const char *path, fm_yaml **out, fm_err *err);
/* name is used in messages in place of a file path */
int fm_yaml_load_buf(const char *buf, size_t len, const char *name, fm_yaml **out, fm_err *err);
void fm_yaml_free(fm_yaml *y);
const fm_ynode *fm_yaml_root(const fm_yaml *y); /* NULL for an empty document */
const char *fm_yaml_name(const fm_yaml *y);

fm_ynode_kind fm_ynode_kind_of(const fm_ynode *n);
int fm_ynode_line(const fm_ynode *n);        /* 1-based */
int fm_ynode_col(const fm_ynode *n);         /* 1-based */
const char *fm_ynode_str(const fm_ynode *n); /* scalar text, NULL when not a scalar */
size_t fm_ynode_len(const fm_ynode *n);      /* items of a sequence, pairs of a map */
const fm_ynode *fm_ynode_item(const fm_ynode *n, size_t i);         /* sequence item */
const fm_ynode *fm_ynode_key(const fm_ynode *n, size_t i);          /* i-th key of a map */
const fm_ynode *fm_ynode_value(const fm_ynode *n, size_t i);        /* i-th value of a map */
const fm_ynode *fm_ynode_get(const fm_ynode *map, const char *key); /* NULL when absent */

/* Errors that name file:line:col and the key, e.g. "spec.yaml:3:5: unknown key 'memroy'". */
int fm_yaml_error(const fm_yaml *y, const fm_ynode *at, fm_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Fails on the first key of map that is not in the NULL-terminated list. */
int fm_yaml_check_keys(const fm_yaml *y, const fm_ynode *map, const char *const *allowed,
                       fm_err *err);
/* Typed reads of map[key]. Absent keys leave *out unchanged and return 0 unless required. */
int fm_yaml_get_str(const fm_yaml *y, const fm_ynode *map, const char *key, bool required,
                    const char **out, fm_err *err);
int fm_yaml_get_int(const fm_yaml *y, const fm_ynode *map, const char *key, bool required,
                    int64_t min, int64_t max, int64_t *out, fm_err *err);
int fm_yaml_get_double(const fm_yaml *y, const fm_ynode *map, const char *key, bool required,
                       double min, double max, double *out, fm_err *err);
int fm_yaml_get_bool(const fm_yaml *y, const fm_ynode *map, const char *key, bool required,
                     bool *out, fm_err *err);

/* The node as JSON text (maps → objects, sequences → arrays, scalars → strings, which the YAML
 * getters read back like the bare scalars they were), malloc'd; NULL when out of memory or nested
 * deeper than 16. JSON is YAML, so the text can be loaded again with fm_yaml_load_buf. */
char *fm_ynode_to_json(const fm_ynode *n);

/* ---- key tables -----------------------------------------------------------------------------
 * A spec's keys as data (the model: src/policy/config.c). One row per key drives parsing with
 * file:line:col errors, unknown/duplicate/required-key checks and the docs' key tables. A JSON
 * form goes through fm_yaml_load_buf too (JSON is YAML), so one table reads both. A value of
 * null counts as absent. Fields are written at obj + off; FM_KEY_STRDUP fields are owned by obj
 * (free what was there). Keys are parsed in table order, so a CUSTOM parser may read fields of
 * keys listed before it. */
typedef enum fm_key_type {
    FM_KEY_INT,     /* int, an integer within [min, max] */
    FM_KEY_DOUBLE,  /* double within [min, max] */
    FM_KEY_SECONDS, /* double seconds: a duration ("10m", "250ms") or a number; range in s */
    FM_KEY_BOOL,    /* bool: true or false */
    FM_KEY_STRBUF,  /* char[cap] inside obj; names (optional): the allowed values */
    FM_KEY_STRDUP,  /* char * owned by obj; names (optional): the allowed values */
    FM_KEY_TABLE,   /* a nested mapping read with the sub table into the same obj */
    FM_KEY_CUSTOM,  /* parse() reads the node */
    FM_KEY__COUNT
} fm_key_type;

typedef struct fm_key fm_key;
struct fm_key {
    const char *name;
    fm_key_type type;
    size_t off;
    double min, max;
    size_t cap; /* FM_KEY_STRBUF: the buffer's size */
    bool required;
    const char *const *names; /* NULL-terminated allowed values of a string key */
    const fm_key *sub;        /* FM_KEY_TABLE */
    size_t nsub;
    int (*parse)(const fm_key *k, const fm_yaml *y, const fm_ynode *n, void *obj, void *ctx,
                 fm_err *err); /* FM_KEY_CUSTOM; ctx is fm_keys_parse's */
    const char *type_doc;      /* the type as docs name it, where the type's own name is vague */
    const char *doc;           /* one line for docs/ and --help */
};

int fm_keys_parse(const fm_key *keys, size_t n, const fm_yaml *y, const fm_ynode *map, void *obj,
                  void *ctx, fm_err *err);
const fm_key *fm_keys_find(const fm_key *keys, size_t n, const char *name); /* NULL: unknown */
const char *fm_key_type_name(fm_key_type t);
/* The table as Markdown rows under a header (nested tables as "batch.max_size"), into buf;
 * returns the length needed, like snprintf. */
size_t fm_keys_markdown(const fm_key *keys, size_t n, char *buf, size_t cap);

/* Strict number parsing used by specs, CLI options and protocols: the whole string must parse. */
int fm_parse_i64(const char *s, int64_t *out);
int fm_parse_double(const char *s, double *out);
/* Durations such as "250ms", "10s", "5m", "1h", "100us" or a bare number of seconds. */
int fm_parse_duration_ns(const char *s, int64_t *out);

/* ---- cold-start phases ------------------------------------------------------------------------
 * The phases of a cold start, in the order a start goes through them: one list for the results
 * store's instance columns (<key>_ms), the platform's per-instance record, the simulator's
 * calibration keys (<key>_ms) and the analyzer's breakdown. X(NAME, key, label). */
#define FM_PHASE_MAP(X)                                                                            \
    X(SPAWN, spawn, "spawn")                      /* process start until the runtime runs */       \
    X(RUNTIME_INIT, runtime_init, "runtime init") /* runtime import / interpreter start */         \
    X(DOWNLOAD, download, "download")             /* model copied into the instance */             \
    X(LOAD, load, "load")                         /* model parsed, planned, weights packed */      \
    X(WARMUP, warmup, "warmup")                   /* first inference */

typedef enum fm_phase {
#define FM_XX(name, key, label) FM_PHASE_##name,
    FM_PHASE_MAP(FM_XX)
#undef FM_XX
        FM_PHASE__COUNT
} fm_phase;
const char *fm_phase_key(fm_phase p);   /* "runtime_init"; "?" when out of range */
const char *fm_phase_label(fm_phase p); /* "runtime init"; "?" when out of range */

/* ---- provenance -------------------------------------------------------------------------------
 * How a number in a data file (data/prices.yaml, data/platforms.yaml) is sourced: every price and
 * every platform default carries one of these. X(NAME, word, meaning). */
#define FM_PROVENANCE_MAP(X)                                                                       \
    X(DOC, "doc", "vendor documentation (possibly archived)")                                      \
    X(SRC, "src", "the vendor's own source code or SDK")                                           \
    X(SECOND, "2nd", "a third-party measurement or copy, not a vendor contract")                   \
    X(UNVERIFIED, "unverified", "weakly sourced; check before relying on it")                      \
    X(ASSUMPTION, "assumption", "no public number exists; a local choice, named as such")

typedef enum fm_provenance {
#define FM_XX(name, word, meaning) FM_PROVENANCE_##name,
    FM_PROVENANCE_MAP(FM_XX)
#undef FM_XX
        FM_PROVENANCE__COUNT
} fm_provenance;
/* FM_EINVAL when s is not one of the words; fm_provenance_words() lists them for messages. */
int fm_provenance_parse(const char *s, fm_provenance *out);
const char *fm_provenance_word(fm_provenance p);
const char *fm_provenance_words(void); /* "doc, src, 2nd, unverified, assumption" */

/* ---- small helpers -------------------------------------------------------------------------- */
/* Reads a whole file into a malloc'd, NUL-terminated buffer. */
int fm_read_file(const char *path, char **out, size_t *len, fm_err *err);
/* Writes a file atomically (temp file + rename), so no partial output is ever left behind. */
int fm_write_file_atomic(const char *path, const void *data, size_t len, fm_err *err);
/* Finds a data file shipped with faasml ("platforms.yaml", "prices.yaml", "calibration/x.yaml"):
 * $FAASML_DATA/<name>, ./data/<name>, data/ beside or above the binary, then the source tree's
 * data/ the binary was built from. Writes the first that exists into buf and returns buf; when
 * none exists returns NULL. */
const char *fm_data_file(const char *name, char *buf, size_t cap);
/* Base64 (RFC 4648). Encoding writes 4*ceil(len/3) characters and a NUL into out and returns their
 * count. Decoding also takes the URL-safe alphabet, skips whitespace and needs no padding; *out is
 * malloc'd and NUL-terminated (so text decodes to a C string), and a bad character is reported
 * with its offset (FM_EPARSE). */
size_t fm_base64_encode(const void *data, size_t len, char *out);
int fm_base64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len, fm_err *err);
/* Quotes s as a JSON string into buf; returns the length it needed (like snprintf). */
size_t fm_json_quote(char *buf, size_t cap, const char *s);

#define FM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define FM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FM_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
