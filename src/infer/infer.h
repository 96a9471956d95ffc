/*
 * infer — faasml's ONNX inference runtime.
 *
 * A model is opened once (file mapped, protobuf read in place, graph checked, shapes inferred with
 * a symbolic batch dimension, weights copied into aligned memory). Every unsupported operator,
 * attribute, data type or opset is reported by name here, before any inference. A model is
 * immutable after open: several sessions, on several threads, may use one model at once.
 *
 * A session holds what one thread of execution needs: the operators with their packed weights,
 * the planned intermediate buffers and the thread pool. A session is used by one thread at a time.
 *
 * Fork safety: neither infer_model_open nor infer_session_new creates a thread. Worker threads
 * (when options.threads > 1) are created by the first infer_session_run, so a process may load a
 * model and create a session, then fork, and each child runs it.
 *
 * Layout: tensors at the boundary are dense, row-major (NCHW for images), as ONNX defines them.
 */
#ifndef FM_INFER_H
#define FM_INFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define INFER_MAX_DIMS 8

/* ---- data types -----------------------------------------------------------------------------
 * Values are ONNX's TensorProto.DataType numbers; names are KServe v2's ("FP32", "INT64", ...). */
#define INFER_DTYPE_MAP(X)                                                                         \
    X(FP32, 1, 4)                                                                                  \
    X(UINT8, 2, 1)                                                                                 \
    X(INT8, 3, 1)                                                                                  \
    X(UINT16, 4, 2)                                                                                \
    X(INT16, 5, 2)                                                                                 \
    X(INT32, 6, 4)                                                                                 \
    X(INT64, 7, 8)                                                                                 \
    X(BYTES, 8, 0)                                                                                 \
    X(BOOL, 9, 1)                                                                                  \
    X(FP16, 10, 2)                                                                                 \
    X(FP64, 11, 8)                                                                                 \
    X(UINT32, 12, 4)                                                                               \
    X(UINT64, 13, 8)                                                                               \
    X(BF16, 16, 2)

typedef enum infer_dtype {
    INFER_DTYPE_UNDEFINED = 0,
#define INFER_XX(name, onnx, size) INFER_DTYPE_##name = onnx,
    INFER_DTYPE_MAP(INFER_XX)
#undef INFER_XX
} infer_dtype;

/* KServe name ("FP32"); "UNDEFINED" for an unknown value; never NULL. */
const char *infer_dtype_name(infer_dtype t);
/* Parses a KServe name (case-insensitive); FM_EINVAL when unknown. */
int infer_dtype_parse(const char *name, infer_dtype *out);
/* Bytes per element; 0 for BYTES (variable length) and unknown types. */
size_t infer_dtype_size(infer_dtype t);

/* ---- tensors --------------------------------------------------------------------------------
 * A view of dense row-major data; the struct never owns data (whoever filled it says who does).
 * data needs no particular alignment. bytes = product(dims) * infer_dtype_size(dtype). */
typedef struct infer_tensor {
    const char *name; /* input/output name; NULL means "by position" */
    infer_dtype dtype;
    int ndim;
    int64_t dims[INFER_MAX_DIMS];
    void *data;
    size_t bytes;
} infer_tensor;

/* Number of elements (1 for ndim 0); -1 when a dim is negative or the product overflows. */
int64_t infer_tensor_numel(const infer_tensor *t);

/* ---- models ---------------------------------------------------------------------------------- */
typedef struct infer_model infer_model;

/* Opens an ONNX file (mapped read-only; external-data files are resolved beside it). On failure
 * *out is NULL and err names the file and the problem, e.g.
 * "cannot load model 'm.onnx': node 'conv7' (ConvTranspose): unsupported operator". */
int infer_model_open(const char *path, infer_model **out, fm_err *err);
/* Same from memory. The model borrows buf: it must stay valid and unchanged until
 * infer_model_free. name is used in messages. External data is not supported here. */
int infer_model_open_buffer(const void *buf, size_t len, const char *name, infer_model **out,
                            fm_err *err);
/* Frees the model; every session of it must have been freed first. NULL is fine. */
void infer_model_free(infer_model *m);

/* An input or output as the model declares it. Borrowed from the model. */
typedef struct infer_io_info {
    const char *name;
    infer_dtype dtype;
    int ndim;
    int64_t dims[INFER_MAX_DIMS];          /* -1 for a symbolic dimension (batch, sequence, ...) */
    const char *dim_names[INFER_MAX_DIMS]; /* symbolic name or NULL */
} infer_io_info;

size_t infer_model_n_inputs(const infer_model *m);
size_t infer_model_n_outputs(const infer_model *m);
/* FM_ERANGE when i is out of range. */
int infer_model_input(const infer_model *m, size_t i, infer_io_info *out);
int infer_model_output(const infer_model *m, size_t i, infer_io_info *out);
/* Index of the input/output with that name, or -1. */
int infer_model_find_input(const infer_model *m, const char *name);
int infer_model_find_output(const infer_model *m, const char *name);

/* Facts about a loaded model, for reports. */
typedef struct infer_model_info {
    int64_t opset; /* default-domain opset imported */
    int64_t ir_version;
    const char *producer; /* "pytorch", ... ("" when absent) */
    size_t n_nodes;       /* nodes kept (Constant nodes become initializers at load) */
    size_t n_nodes_file;  /* nodes in the file */
    size_t weight_bytes;  /* initializers kept by the model */
    size_t file_bytes;
    size_t n_int_nodes; /* quantization nodes: QuantizeLinear, DequantizeLinear,
                           DynamicQuantizeLinear, QLinear*, *Integer (0: a float model) */
} infer_model_info;
void infer_model_get_info(const infer_model *m, infer_model_info *out);

/* ---- sessions -------------------------------------------------------------------------------- */
typedef struct infer_session infer_session;

/* Arithmetic of a session's float convolutions and matrix products. BF16: weights packed to
 * bfloat16, activations rounded to bfloat16 on the way in, accumulation in FP32 (oneDNN on
 * AVX-512 BF16; 1-thread sessions; elsewhere FP32). Tensors at the boundary stay FP32. */
#define INFER_PRECISION_MAP(X) X(FP32, "fp32") X(BF16, "bf16")
typedef enum infer_precision {
#define INFER_XX(name, text) INFER_PRECISION_##name,
    INFER_PRECISION_MAP(INFER_XX)
#undef INFER_XX
} infer_precision;
/* "fp32"/"bf16" (case-insensitive) -> value; FM_EINVAL when unknown. */
int infer_precision_parse(const char *s, infer_precision *out);
const char *infer_precision_name(infer_precision p);

typedef struct infer_session_opts {
    int threads;               /* worker threads, >= 1 (default 1, as a 1-vCPU function has) */
    infer_precision precision; /* default FP32 */
    int max_batch; /* largest batch that run will see; the plan is sized for it (default 1);
                      a larger batch at run time grows the plan (costs one re-plan) */
    const char *pack_cache; /* packed-weight cache: NULL for $FM_INFER_PACK_CACHE, else beside the
                               model ("<model>.fmpack"); a directory; or "off". Borrowed. */
} infer_session_opts;

/* The packed-weight cache: weights reordered for the session's oneDNN primitives, in one file
 * keyed by the model's content hash, the runtime version and the CPU features. A session maps a
 * valid file read-only and shared (every instance of a model shares its pages) and reorders
 * nothing it finds there; a missing, stale or corrupt file is never used, and the session writes
 * a new one (atomically) from what it packed. Outputs are the same bits with or without it.
 * Models opened from a buffer have none. Weights packed inside XNNPACK operators are not cached
 * (the XNNPACK this builds against has no weights cache). */
#define INFER_PACK_MAP(X)                                                                          \
    X(OFF, "off")         /* turned off, or a model from a buffer */                               \
    X(MISSING, "missing") /* no file */                                                            \
    X(STALE, "stale")     /* another model, runtime or CPU features wrote it */                    \
    X(CORRUPT, "corrupt") /* truncated, bad checksum or bad offsets */                             \
    X(VALID, "valid")     /* mapped and used */
typedef enum infer_pack_state {
#define INFER_XX(name, text) INFER_PACK_##name,
    INFER_PACK_MAP(INFER_XX)
#undef INFER_XX
} infer_pack_state;
const char *infer_pack_state_name(infer_pack_state s); /* "valid", ...; never NULL */

void infer_session_opts_init(infer_session_opts *o); /* defaults */

/* Creates a session (operators created, weights packed, memory planned for max_batch). Creates
 * no thread. The model must outlive the session. */
int infer_session_new(infer_model *m, const infer_session_opts *opts, infer_session **out,
                      fm_err *err);
void infer_session_free(infer_session *s); /* NULL is fine */

/* Runs the model.
 * inputs: n_in tensors; each is matched by name when name is set, else by position. Every model
 * input must be given exactly once, with the declared dtype and a shape matching the declared one
 * (symbolic dims take any size >= 1); otherwise FM_ESHAPE / FM_ETYPE naming the input.
 * outputs: n_out (<= number of model outputs) tensors, filled in model output order (or matched by
 * name when name is set). When outputs[i].data is NULL on entry, it is set to session-owned memory
 * valid until the next run or infer_session_free; otherwise results are copied into it and
 * outputs[i].bytes (on entry: capacity) must be large enough (FM_ERANGE otherwise). dtype, ndim,
 * dims and bytes are always set. */
int infer_session_run(infer_session *s, const infer_tensor *inputs, size_t n_in,
                      infer_tensor *outputs, size_t n_out, fm_err *err);

/* Load-phase timings in nanoseconds (0 for a phase not run yet). Model phases come from the
 * model the session belongs to. */
typedef struct infer_timings {
    int64_t read_ns;       /* open + map (or buffer hand-over) */
    int64_t parse_ns;      /* protobuf wire read, graph built, checks, unaligned weights copied */
    int64_t graph_ns;      /* reserved (0): shape inference, folding and fusion count in plan_ns */
    int64_t weights_ns;    /* reserved: weight copies happen while parsing (0 today) */
    int64_t plan_ns;       /* session: shapes, folding, fusion, layout, memory plan (all plans) */
    int64_t pack_ns;       /* session: library operators created, weights packed (all plans) */
    int64_t first_run_ns;  /* session: the first infer_session_run (threads started, setup) */
    int64_t pack_cache_ns; /* session: packed-weight cache hashed, checked, mapped and written */
    int64_t reorder_ns;    /* part of pack_ns: oneDNN weight reorders (none for cached weights) */
    /* The same phases in the loading thread's CPU time: a busy machine stretches the wall-clock
     * phases above by the time others run, these barely. */
    int64_t read_cpu_ns, parse_cpu_ns, plan_cpu_ns, pack_cpu_ns, reorder_cpu_ns, first_run_cpu_ns,
        pack_cache_cpu_ns;
} infer_timings;
void infer_session_timings(const infer_session *s, infer_timings *out);
void infer_model_timings(const infer_model *m, infer_timings *out); /* session fields 0 */

typedef struct infer_session_stats {
    size_t plan_bytes;   /* peak intermediate memory of the current plan (buffers reused) */
    size_t naive_bytes;  /* what the intermediates would take without reuse */
    size_t packed_bytes; /* packed weights held by the session's operators (estimate) */
    int64_t planned_batch;
    uint64_t runs;
    infer_pack_state pack_cache; /* what the session found at creation */
    bool pack_written;           /* it wrote a new cache file */
    size_t pack_hits;            /* weights taken from the mapped cache */
    size_t pack_misses;          /* weights reordered by the session */
    size_t pack_mapped_bytes;    /* size of the mapped cache file (shared, not held) */
} infer_session_stats;
void infer_session_get_stats(const infer_session *s, infer_session_stats *out);

/* ---- quantization (quant.c) -------------------------------------------------------------------
 * infer_quantize writes a quantized copy of a model, as ONNX Runtime's quantizer writes them:
 *  static:  QuantizeLinear/DequantizeLinear pairs (QDQ) on the activations entering and leaving
 *           every Conv, Gemm and MatMul with constant weights (UINT8, asymmetric, ranges from
 *           calibration), weights INT8 symmetric (one scale per output channel by default) behind
 *           DequantizeLinear, biases INT32 at scale x_scale * w_scale.
 *  dynamic: every MatMul/Gemm with constant weights becomes DynamicQuantizeLinear on its input,
 *           MatMulInteger against INT8 weights (one scale per column), Cast and a Mul by
 *           x_scale * w_scale (+ the bias): activations are quantized at run time.
 * Everything else of the model (other nodes, metadata, opsets) is copied unchanged. */
typedef enum infer_quant_mode { INFER_QUANT_STATIC, INFER_QUANT_DYNAMIC } infer_quant_mode;
typedef enum infer_calib_method { INFER_CALIB_MINMAX, INFER_CALIB_PERCENTILE } infer_calib_method;

typedef struct infer_quant_opts {
    infer_quant_mode mode;
    infer_calib_method method;
    double percentile;         /* PERCENTILE: share of values kept inside the range (99.99) */
    bool per_tensor;           /* weights: one scale per tensor instead of per output channel */
    const infer_tensor *calib; /* static: n_calib samples x the model's inputs, sample-major */
    size_t n_calib;
} infer_quant_opts;

typedef struct infer_quant_stats {
    size_t nodes;               /* Conv/Gemm/MatMul nodes quantized */
    size_t activations;         /* activation tensors given a QDQ pair (static) */
    size_t weights;             /* weight tensors stored as INT8 */
    size_t bytes_in, bytes_out; /* model file sizes */
} infer_quant_stats;

void infer_quant_opts_init(infer_quant_opts *o); /* static, min-max, per channel, 99.99 */
/* Quantizes model m (opened from a file or buffer) into out_path (written atomically). Static
 * mode needs calibration samples. st may be NULL. */
int infer_quantize(infer_model *m, const infer_quant_opts *o, const char *out_path,
                   infer_quant_stats *st, fm_err *err);

/* ---- accuracy of one model or precision against a reference (quant.c) -------------------------
 * Both outputs are compared per sample (the first output, its last axis as classes). */
typedef struct infer_accuracy {
    size_t samples;
    double cos_min, cos_mean; /* cosine similarity of the outputs */
    double max_rel_err;       /* max over samples of max |a - b| / max |b| */
    double top1, top5;        /* share of samples whose top-1 class (top-1 in the top 5) agree */
} infer_accuracy;
void infer_accuracy_init(infer_accuracy *a);
/* Adds one sample: got and want hold n floats (classes: the last axis). */
void infer_accuracy_add(infer_accuracy *a, const float *got, const float *want, int64_t n,
                        int64_t classes);
void infer_accuracy_finish(infer_accuracy *a);
/* Fills t (allocated here, caller frees t->data) with a seeded input of the declared type and
 * shape (symbolic dims: batch for the first, else 1): FP32 4-D inputs get smooth image-like
 * values (a coarse random grid bilinearly enlarged, ImageNet-normalised), other FP32 N(0,1),
 * integers uniform below vocab (1000 when 0). */
int infer_sample_input(const infer_io_info *info, int64_t batch, int64_t vocab, fm_rng *rng,
                       infer_tensor *t, fm_err *err);
/* Runs `samples` seeded inputs (infer_sample_input at batch 1, shaped by m's inputs, which both
 * sessions' models take) through both sessions and accumulates got's first output against want's
 * into acc (init and finish included). want is the FP32 reference: the same file at FP32, or the
 * FP32 original of a quantized `got`. */
int infer_accuracy_measure(const infer_model *m, infer_session *got, infer_session *want,
                           int64_t samples, int64_t vocab, uint64_t seed, infer_accuracy *acc,
                           fm_err *err);

/* ---- .npy files (NumPy format 1.0/2.0/3.0, little-endian, C order) ---------------------------
 * For the CLI and the function host. Supported dtypes: all fixed-size ones above. */

/* Parses an .npy image in memory. t->data points into buf (no copy; possibly unaligned). */
int infer_npy_parse(const void *buf, size_t len, infer_tensor *t, fm_err *err);
/* Reads an .npy file; t->data is malloc'd and owned by the caller (free(t->data)). */
int infer_npy_load(const char *path, infer_tensor *t, fm_err *err);
/* Encodes t as .npy (format 1.0) into a malloc'd buffer the caller frees. */
int infer_npy_encode(const infer_tensor *t, void **buf, size_t *len, fm_err *err);
/* Writes t as an .npy file atomically. */
int infer_npy_save(const char *path, const infer_tensor *t, fm_err *err);

#endif
