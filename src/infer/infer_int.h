/*
 * infer_int.h — private to src/infer: the parsed model, the protobuf wire reader, the op table and
 * the session's plan. Layers: pb (wire) -> onnx (model) -> ops (shape + kernels) -> session (plan).
 */
#ifndef FM_INFER_INT_H
#define FM_INFER_INT_H

#include <pthreadpool.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/core.h"
#include "infer/infer.h"

/* ---- protobuf wire reader (pb.c) -------------------------------------------------------------
 * Reads fields in place; every length is checked against the end of the enclosing message. */
typedef struct pb_rd {
    const uint8_t *p, *end;
} pb_rd;

typedef struct pb_field {
    uint32_t num;
    int wt;             /* 0 varint, 1 fixed64, 2 bytes, 5 fixed32 */
    uint64_t v;         /* varint / fixed value */
    const uint8_t *ptr; /* wt 2: the bytes */
    size_t len;
} pb_field;

/* 1 when a field was read, 0 at the end, FM_EPARSE on malformed input. */
int infer__pb_next(pb_rd *r, pb_field *f);
/* Repeated scalars, packed (wt 2) or not: calls in turn; counts first when out is NULL. */
int infer__pb_varints(const pb_field *f, int64_t *out, size_t *n);

/* ---- protobuf wire writer (pbw.c) -------------------------------------------------------------
 * Appends to a growable buffer; an allocation failure sets oom and later writes do nothing. */
typedef struct pb_buf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} pb_buf;

void infer__pbw_raw(pb_buf *b, const void *p, size_t n);
void infer__pbw_varint(pb_buf *b, uint64_t v);
void infer__pbw_uint(pb_buf *b, uint32_t num, uint64_t v); /* wire type 0 */
void infer__pbw_bytes(pb_buf *b, uint32_t num, const void *p, size_t n);
void infer__pbw_str(pb_buf *b, uint32_t num, const char *s);
void infer__pbw_msg(pb_buf *b, uint32_t num, pb_buf *sub); /* appends sub and frees it */
void infer__pbw_free(pb_buf *b);

/* Largest tensor and largest activation plan a session accepts (a function has at most 10 GB). */
#define INFER_TENSOR_LIMIT ((size_t)1 << 34)
#define INFER_PLAN_LIMIT ((size_t)1 << 35)

/* ---- the model ------------------------------------------------------------------------------ */
enum { VAL_INTER = 0, VAL_INPUT, VAL_INIT, VAL_OUTPUT_FLAG = 8 };

typedef struct ival {
    const char *name;
    infer_dtype dtype; /* UNDEFINED when unknown before planning */
    int ndim;          /* -1 when unknown */
    int64_t dims[INFER_MAX_DIMS];
    const char *dim_names[INFER_MAX_DIMS];
    int kind; /* VAL_INTER, VAL_INPUT or VAL_INIT */
    bool is_output;
    const void *data; /* VAL_INIT: aligned data (in the mapping or model-owned) */
    size_t bytes;
    int producer; /* node index, or -1 */
} ival;

typedef enum attr_type {
    ATTR_UNDEFINED = 0,
    ATTR_FLOAT = 1,
    ATTR_INT = 2,
    ATTR_STRING = 3,
    ATTR_TENSOR = 4,
    ATTR_GRAPH = 5,
    ATTR_FLOATS = 6,
    ATTR_INTS = 7,
    ATTR_STRINGS = 8,
} attr_type;

typedef struct iattr {
    const char *name;
    attr_type type;
    float f;
    int64_t i;
    const char *s; /* NUL-terminated copy */
    int64_t *ints;
    float *floats;
    size_t n;   /* elements of ints/floats */
    int tensor; /* ATTR_TENSOR: index of an anonymous VAL_INIT value */
} iattr;

typedef struct inode {
    const char *name;
    const char *op_type;
    int op; /* an infer_op (ops_int.h); -1 for Constant (folded at load) */
    int n_in, n_out;
    int *in; /* value indices; -1 for an omitted optional input */
    int *out;
    int n_attrs;
    iattr *attrs;
} inode;

struct infer_model {
    fm_arena arena;
    char *label;        /* file name for messages */
    const uint8_t *map; /* the file mapping or the borrowed buffer */
    size_t map_len;
    bool mapped;
    char *dir;       /* directory for external data, NULL for buffers */
    void **ext_maps; /* mappings of external-data files */
    size_t *ext_lens;
    size_t n_ext;
    int64_t opset, ir_version;
    const char *producer;
    ival *vals;
    size_t n_vals, cap_vals;
    inode *nodes; /* topologically sorted after load */
    size_t n_nodes;
    int *inputs; /* graph inputs (not initializers) */
    size_t n_inputs;
    int *outputs;
    size_t n_outputs;
    size_t weight_bytes;
    size_t n_const_nodes; /* Constant nodes folded into initializers */
    uint8_t *wbuf;        /* weights copied out of the file (huge pages where possible) */
    size_t wcap, wused;
    infer_timings t;
};

/* tensor.c: one TensorProto */
typedef struct tensor_fields {
    const char *name;
    int64_t dims[INFER_MAX_DIMS];
    int ndim;
    int64_t dtype;
    const uint8_t *raw;
    size_t raw_len;
    bool has_raw;
    bool external;
    const char *location;
    int64_t ext_offset, ext_length;
    size_t n_typed; /* elements found in typed fields */
} tensor_fields;
/* Reads a TensorProto; data in place when aligned, else from alloc(actx, bytes). m may carry
 * the model's directory (external data) and arena (names). */
int infer__onnx_read_tensor(infer_model *m, const uint8_t *msg, size_t len, tensor_fields *tf,
                            const void **data, size_t *bytes, void *(*alloc)(void *, size_t),
                            void *actx, fm_err *err);
bool infer__onnx_dtype_known(int64_t t);
/* A printable, NUL-terminated copy of a protobuf string in the model's arena. */
char *infer__onnx_name(infer_model *m, const uint8_t *p, size_t len);

/* onnx.c: parse a model image into m (m->map set). */
int infer__onnx_parse_model(infer_model *m, fm_err *err);
/* Parses a TensorProto into a dense tensor (malloc'd data, caller frees). For tests. */
int infer__onnx_parse_tensor_alloc(const void *buf, size_t len, infer_tensor *t, char **name,
                                   fm_err *err);

/* ---- ops (ops.c and ops_*.c) ---------------------------------------------------------------- */
typedef struct infer_session infer_session;

/* A tensor during planning/running: shape, dtype, data and whether its value is known at plan
 * time. */
typedef struct rt_val {
    infer_dtype dtype;
    int ndim;
    int64_t dims[INFER_MAX_DIMS];
    int64_t numel;
    size_t bytes;
    void *data;
    bool is_const; /* known at plan time (initializer or folded) */
    int alias;     /* value whose storage this one shares, or -1 */
    int first_use, last_use;
    bool nhwc;     /* 4-D data stored as NHWC (dims stay NCHW) */
    size_t offset; /* in the session's activation buffer */
} rt_val;

typedef struct step {
    const inode *node;
    int op; /* an infer_op (ops_int.h): the node's, or the fused or QDQ step's */
    rt_val *in[16];
    rt_val *out[4];
    int n_in, n_out;
    void **state;  /* op-private, kept across plans (XNNPACK operator with packed weights) */
    void **dstate; /* oneDNN primitive state, kept across plans (a separate slot: a node may use
                      XNNPACK at one batch size and oneDNN at another) */
    const rt_val *fused_bias; /* MatMul + Add fused: the bias vector */
    int64_t fc_rows;          /* fully connected: rows of the current plan */
    bool in_nhwc, out_nhwc;   /* Conv: activations already in NHWC (layout pass) */
    bool xnn;                 /* runs on an XNNPACK operator */
    bool gemm1x1;             /* Conv 1x1 on NHWC data: one sgemm against the ONNX weights */
    bool qint8;               /* QLinearConv meant for oneDNN int8 (reads and writes NHWC) */
    bool dnnl;                /* Conv on a oneDNN primitive (1-thread sessions) */
    float fuse_min, fuse_max; /* fused activation clamp (Relu, Clip); +-inf when none */
    float eps;                /* fused LayerNorm: epsilon from the graph (NaN: the attribute) */
    void *scratch;            /* op-private scratch inside the plan */
    size_t scratch_bytes;
    infer_session *s;
} step;

/* attribute helpers (ops.c) */
const iattr *infer__node_attr(const inode *n, const char *name);
int64_t infer__attr_i(const inode *n, const char *name, int64_t def);
float infer__attr_f(const inode *n, const char *name, float def);
const char *infer__attr_s(const inode *n, const char *name, const char *def);
/* reads an INTS attribute into out (up to max); returns count, or def_n when absent */
int infer__attr_ints(const inode *n, const char *name, int64_t *out, int max);

/* Reads a constant integer tensor (INT64 or INT32) into out; FM_EUNSUPPORTED if not constant. */
int infer__const_ints(const step *st, int idx, int64_t *out, int max, int *n, fm_err *err);
int infer__set_out(step *st, int i, infer_dtype t, int ndim, const int64_t *dims, fm_err *err);
int infer__step_err(const step *st, fm_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ops_quant.c: load-time checks of scales and zero points given as initializers; the
 * com.microsoft operators the runtime accepts */
int infer__quant_check_node(const infer_model *m, const inode *n, fm_err *err);
bool infer__quant_is_ms_op(const char *name);

/* This thread's CPU time (the CPU-time twins of infer_timings). */
static inline int64_t infer_cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* ---- packed-weight cache (packcache.c) --------------------------------------------------------
 * The file format is described in packcache.c; these structs are its on-disk records. */
#define PACK_FORMAT 1
#define PACK_RUNTIME_LEN 48
typedef struct pack_key {
    uint64_t model_hash, model_bytes, cpu_key;
    char runtime[PACK_RUNTIME_LEN]; /* NUL-padded */
} pack_key;
typedef struct pack_hdr {
    char magic[8];
    uint32_t version, n_entries;
    uint64_t file_bytes;
    uint64_t model_hash, model_bytes, cpu_key;
    char runtime[PACK_RUNTIME_LEN];
    uint64_t checksum; /* XXH3-64 of the file with this field 0 */
} pack_hdr;
typedef struct pack_ent {
    uint32_t value;     /* model value the weights come from */
    uint32_t key_bytes; /* the format key: the primitive's weights memory descriptor */
    uint64_t key_off, data_off, data_bytes;
} pack_ent;
typedef struct pack_view { /* a checked file image */
    const uint8_t *base;
    const pack_ent *ents;
    size_t n;
} pack_view;
typedef struct packcache packcache;
/* Checks a file image against the key: 0 and *out set, FM_EPARSE when corrupt or truncated,
 * FM_ESTATE when valid but written for another key; err says which check failed. */
int infer__packcache_parse(const void *buf, size_t len, const pack_key *want, pack_view *out,
                           fm_err *err);
uint64_t infer__packcache_checksum(const void *buf, size_t len);
uint64_t infer__packcache_cpu_key(void);
/* Opens the cache of a mapped model (dir: infer_session_opts.pack_cache, else
 * $FM_INFER_PACK_CACHE: see infer_opts; NULL: beside the model); *out is NULL for a
 * model from a buffer. Only allocation failures are errors: a bad file is a miss. */
int infer__packcache_open(const infer_model *m, const char *dir, packcache **out);
/* Weights of model value `value` packed in the format named by key; NULL on a miss. */
const void *infer__packcache_find(packcache *c, int value, const void *key, size_t key_bytes,
                                  size_t bytes);
/* Records weights this session packed (data borrowed until commit) for the file commit writes. */
void infer__packcache_note(packcache *c, int value, const void *key, size_t key_bytes,
                           const void *data, size_t bytes);
/* Writes found + noted entries to a new file (tmp + rename) when anything was noted. */
int infer__packcache_commit(packcache *c, fm_err *err);
void infer__packcache_stats(const packcache *c, infer_session_stats *st);
void infer__packcache_free(packcache *c); /* NULL is fine; after everything that uses the mapping */

/* ---- session (session.c) --------------------------------------------------------------------- */
/*
 * Environment switches, read once per session at its creation (session.c, opts_from_env) into
 * infer_session.env; kernels consult that, never getenv. The boolean ones take effect when the
 * variable is set, whatever its value (FM_INFER_PROFILE excepted). For measurements and
 * comparisons; docs/infer.md lists the same variables.
 *   FM_INFER_PACK_CACHE=DIR|off  packed-weight cache directory when infer_session_opts.pack_cache
 *                                is NULL (empty: beside the model; "off" or "0": no cache)
 *   FM_INFER_PROFILE=1           log CPU time per operator type when the session is freed
 *                                (set, non-empty and not "0")
 *   FM_INFER_NCHW                no NHWC layout region between convolutions
 *   FM_INFER_NO_DNNL             no oneDNN at all (float convolutions/matmuls, int8 kernels)
 *   FM_INFER_NO_DNNL_MATMUL      fully connected layers on OpenBLAS sgemm instead of oneDNN
 *   FM_INFER_NO_QDNNL            no oneDNN int8 kernels (the scalar integer kernels run)
 *   FM_INFER_NO_QDQ              no QDQ group fusion into integer convolutions and adds
 *   FM_INFER_NO_FC               MatMul with constant weights not as a fully connected operator
 *   FM_INFER_XNN_FC              fully connected layers on XNNPACK even for many rows
 *   FM_INFER_XNN_1X1             pointwise NHWC convolutions on XNNPACK instead of one sgemm
 *   FM_INFER_DNNL_VERBOSE        log the oneDNN implementation chosen for each primitive
 */
typedef struct infer_opts {
    const char *pack_cache; /* NULL when unset or empty */
    bool profile, nchw, no_dnnl, no_dnnl_matmul, no_qdnnl, no_qdq, no_fc, xnn_fc, xnn_1x1,
        dnnl_verbose;
} infer_opts;

/* A fully connected operator, shared by every node with the same weights (ALBERT reuses one
 * layer's weights twelve times: packed once). */
typedef struct fc_entry {
    const void *w, *b;
    int64_t k, n;
    bool t;
    float mn, mx;
    void *op;
} fc_entry;

typedef struct owned_obj {
    void *obj;
    void (*free_fn)(void *);
} owned_obj;

struct infer_session {
    infer_model *m;
    infer_session_opts o;
    pthreadpool_t pool;  /* created by the first run when threads > 1 */
    fm_arena plan_arena; /* constants folded at plan time, steps */
    rt_val *vals;        /* one per model value */
    step *steps;
    size_t n_steps;
    void **node_state;           /* per node, kept across plans */
    void **node_dnnl;            /* per node: oneDNN state, kept across plans */
    int *consumers;              /* per value: number of consuming nodes */
    int *cons_start, *cons_list; /* per value: its consuming nodes (CSR) */
    int *consumer;               /* per value: the last consuming node */
    uint8_t *fused;              /* per node: folded into its producer (runs as an alias) */
    uint8_t *act;                /* activation buffer (64-byte aligned) */
    size_t act_cap;
    bool act_mapped; /* act is an anonymous mapping (huge pages), not malloc'd */
    int64_t (*plan_dims)[INFER_MAX_DIMS]; /* per model input: shape of the current plan */
    int *plan_ndim;
    bool planned;
    owned_obj *owned; /* XNNPACK operators, oneDNN primitives: freed with the session */
    size_t n_owned, cap_owned;
    fc_entry *fc;
    size_t n_fc, cap_fc;
    bool reference;      /* plain reference kernels only (tests compare fast paths with it) */
    infer_opts env;      /* FM_INFER_* switches, read at creation */
    bool ints_as_consts; /* small integer inputs feed shapes: plan with their values */
    int64_t *prof_ns;    /* per op (FM_INFER_PROFILE=1): time spent, logged at free */
    infer_timings t;
    infer_session_stats st;
    packcache *pack; /* packed-weight cache (NULL: none) */
    void *bf16_buf;  /* BF16 sessions: one staging buffer for oneDNN inputs (steps run in turn) */
    size_t bf16_cap;
    /* quant.c's calibration: no fusion (every node's output is materialised), and a call after
     * every step with each output value (index into vals) */
    bool calibrating;
    void (*observe)(void *ctx, int v, const rt_val *r);
    void *observe_ctx;
};

/* Creates a session for calibration (see infer_session.calibrating). */
int infer__session_new_calibrating(infer_model *m, void (*observe)(void *, int, const rt_val *),
                                   void *ctx, infer_session **out, fm_err *err);

pthreadpool_t infer__session_pool(const infer_session *s);
/* The value whose storage v shares (alias chains resolved). */
int infer__session_root(const infer_session *s, int v);

/* fuse.c: rewrites made while planning */
/* A Conv, Add or MatMul step absorbs its only consumer (Relu/Clip, Relu, bias Add). */
void infer__fuse_producer(infer_session *s, step *st, int ni);
/* Chains starting at node ni: their last node, or -1; chain[] gets the absorbed nodes. */
int infer__match_gelu(const infer_session *s, int ni, int *chain, int *nc);
int infer__match_layernorm(const infer_session *s, int ni, int *chain, int *nc, int *gamma,
                           int *beta, float *eps);
/* Marks values NHWC where every consumer accepts it; FM_ENOMEM on failure. */
int infer__layout_pass(infer_session *s);
/* Tests: sessions created on this thread while set use only the plain reference kernels (no
 * XNNPACK, OpenBLAS, fusion or layout changes). */
extern _Thread_local bool infer__reference_mode;
/* Records an operator for deletion with the session; FM_ENOMEM on failure (op deleted). */
int infer__session_own(infer_session *s, void *op);
/* Same for any object with its free function. */
int infer__session_own_fn(infer_session *s, void *obj, void (*free_fn)(void *));

#endif
