/*
 * fn — the function host: serves one model behind the Lambda Runtime API (as a custom runtime
 * `bootstrap`) or behind its own HTTP server (KServe/Open Inference Protocol v2, SageMaker,
 * Knative). Both modes share the payload codecs (KServe v2 JSON and binary tensors, Lambda
 * events, JPEG/PNG images) and one request path: decode, check against the model, run, encode.
 *
 * Layers, each calling only the one below:
 *   fn_lambda_run / fn_http_run   protocol loops (libcurl client, libevent server)
 *   fn_host                       init phases (fetch, load, warm-up) and fn_host_handle
 *   codecs                        fn_v2_*, fn_event_*, fn_image_*, fn_topk_* (base64: core's
 * fm_base64_*) fn_handler                    what computes: the ONNX runtime, or the identity test
 * handler The host never prints: it logs through core's callback and hands lines for stdout/stderr
 * to the caller (fn_run_opts callbacks), so cli/ alone writes to the terminal.
 */
#ifndef FM_FN_H
#define FM_FN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "core/http.h"
#include "infer/infer.h"

#define FN_MAX_IO 16                            /* inputs or outputs a served model may declare */
#define FN_MAX_IMAGE_PIXELS (64L * 1024 * 1024) /* larger images are refused before decoding */

/* ---- growable byte buffer (response bodies) --------------------------------------------------
 * core's fm_buf; the fn_buf names are the same buffer and functions, kept so the module's codecs
 * read as before. */
typedef fm_buf fn_buf;
#define fn_buf_append fm_buf_append
#define fn_buf_puts fm_buf_puts
#define fn_buf_printf fm_buf_printf
#define fn_buf_json_str fm_buf_json_str
#define fn_buf_release fm_buf_release

/* ---- handlers --------------------------------------------------------------------------------
 * A handler declares its inputs and outputs and computes outputs from inputs. run is given every
 * input, in declaration order, already checked against the declaration, and fills every output in
 * declaration order; output data is handler-owned and valid until the next run or free. */
typedef struct fn_handler fn_handler;

typedef struct fn_handler_ops {
    int (*run)(fn_handler *h, const infer_tensor *in, infer_tensor *out, fm_err *err);
    void (*free)(fn_handler *h);
} fn_handler_ops;

struct fn_handler {
    const fn_handler_ops *ops;
    void *impl;
    const char *platform; /* KServe platform string, e.g. "onnx_onnxv1" */
    size_t n_inputs, n_outputs;
    infer_io_info inputs[FN_MAX_IO];
    infer_io_info outputs[FN_MAX_IO];
    int64_t load_ns; /* model read + parse + graph + weights */
    int64_t plan_ns; /* memory plan + weight packing */
};

/* A function's arithmetic. FP32 and BF16 are session options (infer_precision); INT8 is a label
 * for a model file that is already quantized (`faasml quantize`): the host checks that the model
 * holds quantization nodes and runs it as it is. */
typedef enum fn_precision { FN_PRECISION_FP32, FN_PRECISION_BF16, FN_PRECISION_INT8 } fn_precision;
/* "fp32", "bf16", "int8" (case-insensitive) -> value; FM_EINVAL when unknown. */
int fn_precision_parse(const char *s, fn_precision *out);
const char *fn_precision_name(fn_precision p);

/* Opens an ONNX model with the inference runtime (threads >= 1, max_batch >= 1). INT8 fails with
 * FM_ESCHEMA when the model has no quantization nodes. */
int fn_handler_onnx_new(const char *path, int threads, int max_batch, fn_precision precision,
                        fn_handler **out, fm_err *err);
/* The identity handler, for protocol tests without a model: `identity[:DTYPE[:D0xD1x...]]`
 * declares one input "input" and one output "output" of that type and shape (default FP32
 * [-1,-1]; -1 is a variable dimension) and returns its input unchanged. */
int fn_handler_identity_new(const char *desc, fn_handler **out, fm_err *err);
void fn_handler_free(fn_handler *h); /* NULL is fine */
/* Runs h on inputs in declaration order; outputs (n_outputs entries) are filled. */
int fn_handler_run(fn_handler *h, const infer_tensor *in, infer_tensor *out, fm_err *err);

/* ---- function spec ---------------------------------------------------------------------------
 * The fields of a function spec (YAML) the host reads; other top-level keys belong to the
 * platform and are ignored here. See docs/function-host.md. */
typedef enum fn_layout { FN_LAYOUT_NCHW, FN_LAYOUT_NHWC } fn_layout;

typedef struct fn_preprocess {
    bool set;          /* a preprocess block was given (else images take the model's shape) */
    int height, width; /* 0: from the model input's static dims */
    int channels;      /* 3 (RGB) or 1 (grayscale) */
    float mean[3], std[3];
    double scale; /* pixel (0..255) * scale, then (x - mean) / std */
    fn_layout layout;
} fn_preprocess;

typedef struct fn_postprocess {
    int topk;          /* 0: image requests answer with output tensors */
    bool softmax;      /* scores are softmax probabilities instead of raw outputs */
    char output[128];  /* which output holds the class scores ("" = the first) */
    char labels[4096]; /* labels file, one class per line ("" = none) */
} fn_postprocess;

typedef struct fn_spec {
    char name[128];         /* model name in KServe paths ("" = model file name without .onnx) */
    char model[4096];       /* path, file:// or http(s):// URL, or builtin:identity[:...] */
    char task_dir[4096];    /* where URLs are copied at init ("" = $FAASML_TASK_DIR or /tmp) */
    int threads;            /* inference threads (default 1) */
    int max_batch;          /* the batch the memory plan is sized for (default 1) */
    fn_precision precision; /* default FP32 */
    bool warmup;            /* run one inference on zeros at init (default true) */
    fn_preprocess pre;
    fn_postprocess post;
} fn_spec;

void fn_spec_init(fn_spec *s); /* defaults */
/* Reads the fields above from a YAML spec; a relative model or labels path is taken relative to
 * the spec's directory. Errors name file:line:col. */
int fn_spec_load_file(const char *path, fn_spec *s, fm_err *err);
int fn_spec_load_buf(const char *buf, size_t len, const char *name, const char *dir, fn_spec *s,
                     fm_err *err);
/* Parses "0.485,0.456,0.406" into n floats (n = 1 is broadcast to 3). */
int fn_spec_parse_floats(const char *s, float *out, int n, fm_err *err);
int fn_layout_parse(const char *s, fn_layout *out);

/* ---- KServe v2 requests and responses ------------------------------------------------------ */
typedef struct fn_v2_output_req {
    const char *name;
    bool binary; /* parameters.binary_data */
} fn_v2_output_req;

typedef struct fn_v2_request {
    fm_arena arena; /* owns everything below except tensor data that points into the body */
    const char *id; /* NULL when absent */
    size_t n_inputs;
    infer_tensor *inputs;
    size_t n_outputs; /* requested outputs; 0 = all */
    fn_v2_output_req *outputs;
    bool binary_output; /* parameters.binary_data_output */
} fn_v2_request;

/* Decodes a v2 inference request. header_len is Inference-Header-Content-Length, or -1 when the
 * body is JSON only. Binary tensor data is not copied: tensors point into body, which must
 * outlive req. On failure req is released and err names the problem (input name, expected vs got).
 */
int fn_v2_request_decode(const void *body, size_t len, int64_t header_len, fn_v2_request *req,
                         fm_err *err);
void fn_v2_request_release(fn_v2_request *req);

/* Checks req against the handler's declared inputs (names, datatypes, shapes; -1 matches any
 * size) and requested outputs (names), and puts the inputs in declaration order. */
int fn_v2_request_check(const fn_handler *h, fn_v2_request *req, fm_err *err);

/* Encodes a v2 response. outs are all the model outputs (n of them); req (may be NULL) filters
 * and marks outputs binary. *header_len is the JSON length when binary data follows, else -1. */
int fn_v2_response_encode(const char *model_name, const fn_v2_request *req,
                          const infer_tensor *outs, size_t n, fn_buf *out, int64_t *header_len,
                          fm_err *err);
/* Model metadata: {"name","versions","platform","inputs":[...],"outputs":[...]}. */
int fn_v2_metadata_encode(const char *model_name, const fn_handler *h, fn_buf *out);

/* Appends the JSON array of t's elements, flat (row-major). */
int fn_v2_data_encode(const infer_tensor *t, fn_buf *out);

/* ---- dynamic batching (batch.c) --------------------------------------------------------------
 * A KServe v2 request as batching needs it: its inputs' names, datatypes and shapes, where each
 * input's data lies in the body (JSON values are counted, not converted; binary tensors are byte
 * spans), the batch size (dim 0, shared by every input), the id and the requested outputs. */
typedef struct fn_v2_batch_input {
    char name[128];
    char datatype[16];
    int ndim;
    int64_t dims[INFER_MAX_DIMS];
    bool binary;               /* the tensor's bytes follow the JSON header (binary_data_size) */
    size_t data_off, data_len; /* in the body: JSON, the data array's text inside its brackets;
                                  binary, the tensor's bytes */
} fn_v2_batch_input;

typedef struct fn_v2_batch_req {
    size_t n_inputs;
    fn_v2_batch_input inputs[FN_MAX_IO];
    int64_t items;    /* dim 0: > 1 is a client-side batch */
    char *id;         /* NULL when absent */
    size_t n_outputs; /* requested outputs; 0 = all */
    char *outputs[FN_MAX_IO];
} fn_v2_batch_req;

/* Scans a request. header_len < 0: the body is JSON; otherwise its first header_len bytes are
 * the JSON header (Inference-Header-Content-Length) and the binary tensors follow. Errors name the
 * input and the problem (no batch dimension, inputs that disagree on it, data that does not fit
 * the shape, binary outputs asked for: a batched response is JSON). */
int fn_v2_batch_parse(const char *body, size_t len, int64_t header_len, fn_v2_batch_req *r,
                      fm_err *err);
void fn_v2_batch_req_release(fn_v2_batch_req *r);
/* Merges n requests (bodies[i] is the body reqs[i] was parsed from) into one request along dim
 * 0, in order; every input must agree on name, datatype and dims 1... An input every request sends
 * as binary stays binary (its bytes joined after the header; *header_len is then the header's
 * length, else -1); any other is JSON, binary members' values printed as the function host prints
 * them. The merged request asks for every output. */
int fn_v2_batch_merge(const fn_v2_batch_req *const *reqs, const char *const *bodies, size_t n,
                      fn_buf *out, int64_t *header_len, fm_err *err);
/* Splits a JSON v2 response to a merged request: outs[r] (n caller-owned, empty buffers) gets
 * request r's rows of every output it asked for, with its own id. Outputs must carry flat JSON
 * data whose dim 0 is the merged batch. */
int fn_v2_batch_split(const void *resp, size_t len, const fn_v2_batch_req *const *reqs, size_t n,
                      fn_buf *outs, fm_err *err);

/* ---- images ---------------------------------------------------------------------------------- */
typedef struct fn_image {
    int width, height, channels; /* channels 1 or 3 */
    uint8_t *pixels;             /* interleaved, row-major, malloc'd */
} fn_image;

/* Decodes a PNG or JPEG (sniffed from its first bytes) into 8-bit channels (1 or 3). */
int fn_image_decode(const void *buf, size_t len, int channels, fn_image *img, fm_err *err);
void fn_image_release(fn_image *img);
/* Resizes (bilinear, half-pixel centres) and normalises one image (img->channels must equal
 * pp->channels) into FP32 [C,H,W] (NCHW) or [H,W,C] (NHWC); out holds C*H*W floats. */
void fn_image_to_tensor(const fn_image *img, const fn_preprocess *pp, int height, int width,
                        float *out);

/* ---- Lambda events ---------------------------------------------------------------------------
 * An event is a v2 request ({"inputs":[...]}), one or more base64 images ({"image":"..."} or
 * {"images":["...",...]}), or an API Gateway proxy event whose body (base64 or not) is one of
 * those JSON forms or the raw bytes of an image. */
typedef enum fn_event_kind { FN_EVENT_V2, FN_EVENT_IMAGES } fn_event_kind;

typedef struct fn_event {
    fn_event_kind kind;
    bool api_gateway; /* answer with {"statusCode","headers","body"} */
    fm_arena arena;   /* the parsed event and API Gateway body */
    const void *v2;   /* FN_EVENT_V2: the request object (module-private JSON node) */
    size_t n_images;  /* FN_EVENT_IMAGES: decoded base64 bytes, malloc'd */
    uint8_t **images;
    size_t *image_lens;
} fn_event;

int fn_event_decode(const void *body, size_t len, fn_event *ev, fm_err *err);
void fn_event_release(fn_event *ev);

/* ---- request bodies (request.c) ----------------------------------------------------------------
 * The client side of the codecs: the body a caller sends to a model, built from the handler's
 * declared inputs (the counterpart of SAM's generate-event and perf_analyzer's random input). A
 * variable dimension is `batch` in dim 0 and 1 elsewhere. Random tensors are seeded: the same
 * seed gives the same bytes. FN_REQUEST_LAMBDA_EVENT carries an image as {"image": base64}
 * ({"images": [...]} for a batch), which the host preprocesses itself, and tensors as a v2
 * request (a valid event too). */
#define FN_REQUEST_FORMAT_MAP(X)                                                                   \
    X(V2_JSON, "v2-json")                                                                          \
    X(V2_BINARY, "v2-binary")                                                                      \
    X(LAMBDA_EVENT, "lambda-event")

typedef enum fn_request_format {
#define FN_XX(name, str) FN_REQUEST_##name,
    FN_REQUEST_FORMAT_MAP(FN_XX)
#undef FN_XX
} fn_request_format;

const char *fn_request_format_name(fn_request_format f);
int fn_request_format_parse(const char *s, fn_request_format *out); /* FM_EINVAL when unknown */

typedef struct fn_request_opts {
    fn_request_format format;
    const void *image; /* JPEG/PNG bytes; NULL: random tensors */
    size_t image_len;
    const fn_preprocess *pre; /* how an image becomes the input (NULL: fn_spec_init's) */
    uint64_t seed;
    int64_t batch; /* >= 1: items in dim 0 */
} fn_request_opts;

/* Builds the body into out (caller-owned, empty). *header_len is the JSON header's length for
 * FN_REQUEST_V2_BINARY (send it as Inference-Header-Content-Length), else -1. */
int fn_request_build(const fn_handler *h, const fn_request_opts *o, fn_buf *out,
                     int64_t *header_len, fm_err *err);

/* Encodes n input tensors as a v2 inference request: JSON data, or with binary true the binary
 * tensor extension (*header_len = JSON length, the raw bytes follow), else *header_len = -1. */
int fn_v2_request_encode(const infer_tensor *in, size_t n, bool binary, fn_buf *out,
                         int64_t *header_len, fm_err *err);

/* ---- top-k ------------------------------------------------------------------------------------
 * {"predictions":[[{"class":i,"score":s,"label":"..."},...],...]}: one list per batch item, over
 * the elements of each item (a [N,C] or [N,C,1,1] output). labels may be NULL. */
int fn_topk_encode(const infer_tensor *scores, int k, bool softmax, char *const *labels,
                   size_t n_labels, fn_buf *out, fm_err *err);

/* ---- the host ---------------------------------------------------------------------------------
 */
typedef struct fn_host fn_host;

/* Init phases in nanoseconds (0 for a phase not run). */
typedef struct fn_init_times {
    int64_t runtime_ns;  /* process start -> host init begins (exec, dynamic linking, config) */
    int64_t download_ns; /* model URL copied into the task directory */
    int64_t load_ns;     /* model read + parse + graph + weights */
    int64_t plan_ns;     /* memory plan + weight packing */
    int64_t warmup_ns;   /* one inference on zeros */
    int64_t total_ns;    /* process start -> ready */
} fn_init_times;

/* Runs the init phases: fetch, load, warm-up. On failure err names the model and the problem. */
int fn_host_new(const fn_spec *spec, fn_host **out, fm_err *err);
void fn_host_free(fn_host *h);
const char *fn_host_model_name(const fn_host *h);
const fn_handler *fn_host_handler(const fn_host *h);
void fn_host_init_times(const fn_host *h, fn_init_times *out);
/* The init phases as one JSON object (FAASML_INIT line and X-Faasml-Init header). */
void fn_host_init_json(const fn_host *h, char *buf, size_t cap);

typedef enum fn_payload {
    FN_PAYLOAD_V2,    /* KServe v2 JSON, or JSON + binary with header_len >= 0 */
    FN_PAYLOAD_IMAGE, /* raw JPEG/PNG bytes */
    FN_PAYLOAD_EVENT, /* Lambda event JSON */
    FN_PAYLOAD_AUTO,  /* by content type: SageMaker /invocations */
} fn_payload;

typedef struct fn_reply {
    int status; /* 200, 400 (bad input), 500 (inference failed), 504 (deadline) */
    fn_buf body;
    const char *content_type;
    int64_t header_len;     /* Inference-Header-Content-Length for binary replies, else -1 */
    const char *error_type; /* Lambda errorType when status != 200 */
    char message[512];      /* the error message when status != 200 */
} fn_reply;

/* Handles one request end to end. deadline_ms is a Unix epoch ms deadline (0 = none).
 * Always fills *reply (an error reply carries {"error":"..."}); returns 0 or the error code. */
int fn_host_handle(fn_host *h, fn_payload kind, const char *content_type, const void *body,
                   size_t len, int64_t header_len, int64_t deadline_ms, fn_reply *reply);
void fn_reply_release(fn_reply *r);

/* ---- protocol loops ---------------------------------------------------------------------------
 */
typedef struct fn_run_opts {
    /* Called once init is done: init_json is the init phases; url is the HTTP listen URL (NULL
     * in Runtime API mode). The CLI prints the FAASML_INIT and ready lines here. */
    void (*on_ready)(void *ud, const char *init_json, const char *url);
    void *ud;
    int64_t max_events; /* Runtime API: stop after this many events (0 = forever) */
    size_t max_body;    /* HTTP: largest request body (0 = limits' or 64 MiB) */
    /* HTTP: header and body sizes, timeouts, connection cap (NULL = fm_http_limits_default) */
    const fm_http_limits *limits;
    int64_t drain_ns; /* HTTP: longest SIGTERM drain (0 = 30 s) */
    /* Runtime API: a configuration error found before init (spec, environment); when its code
     * is set, fn_lambda_run reports it as the init error and returns it without loading. */
    const fm_err *config_error;
} fn_run_opts;

/* Runtime API mode: init (on failure POST /runtime/init/error and return the error), then the
 * /next -> handle -> /response or /error loop. api is AWS_LAMBDA_RUNTIME_API (host:port). */
int fn_lambda_run(const fn_spec *spec, const char *api, const fn_run_opts *opts, fm_err *err);
/* The /next loop alone, on an initialised host (libcurl's global init done by the caller);
 * init_json (may be NULL) goes out with the first answer. */
int fn_lambda_serve(fn_host *host, const char *api, const char *init_json, const fn_run_opts *opts,
                    fm_err *err);

/* Zygote mode (zygote.c): init once (load, plan; warm-up only when it starts no thread, so the
 * process can fork), report ready on the control socket ctl, then fork one Lambda runtime per
 * request received there, until ctl closes. A request carries the instance's Runtime API address
 * and its stdout/stderr and cgroup.procs descriptors (SCM_RIGHTS); the reply is the new runtime's
 * pid, which is re-parented to the platform (a child subreaper) so the platform reaps it. */
#define FN_ZYGOTE_API_MAX 64
typedef struct fn_zygote_req {
    char api[FN_ZYGOTE_API_MAX]; /* AWS_LAMBDA_RUNTIME_API of the instance */
    char stream[128];            /* AWS_LAMBDA_LOG_STREAM_NAME */
    uint64_t rlimit_as;          /* > 0: RLIMIT_AS for the child (no cgroups) */
    int32_t nfds;                /* descriptors sent: stdout, stderr, then cgroup.procs files */
    int32_t provisioned;         /* AWS_LAMBDA_INITIALIZATION_TYPE */
} fn_zygote_req;
typedef struct fn_zygote_reply {
    int32_t pid; /* > 0, or -errno */
    int32_t pad;
    int64_t fork_ns; /* request received -> child running */
} fn_zygote_reply;
int fn_zygote_run(const fn_spec *spec, int ctl, const fn_run_opts *opts, fm_err *err);

/* HTTP mode: init, listen on host:port (port 0 picks one), serve until SIGTERM or SIGINT, then
 * stop accepting, finish in-flight requests and return 0. */
int fn_http_run(const fn_spec *spec, const char *host, int port, const fn_run_opts *opts,
                fm_err *err);

#endif
