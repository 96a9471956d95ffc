/* Private to the function host: helpers shared by its codecs. */
#ifndef FM_FN_INT_H
#define FM_FN_INT_H

#include "fn/fn.h"

/* The host's state (host.c builds it, handle.c serves requests with it). */
struct fn_host {
    fn_spec spec;
    fn_handler *h;
    char name[128];
    fn_init_times times;
    int topk_output; /* index of the output top-k reads */
    char **labels;
    size_t n_labels;
    char *labels_buf;
};

/* ---- JSON reader (json.c) -------------------------------------------------------------------
 * Values live in an arena; arrays whose items are all numbers keep them in nums[] (no child
 * nodes). Numbers are read correctly rounded (as strtod reads them), so `exact` is always true;
 * it and fj_num_exact stay for callers written when the reader was approximate. */
typedef enum fj_type { FJ_NULL, FJ_FALSE, FJ_TRUE, FJ_NUM, FJ_STR, FJ_ARR, FJ_OBJ } fj_type;

typedef struct fj fj;
struct fj {
    fj_type type;
    bool exact;      /* FJ_NUM, or FJ_ARR with nums: every number read exactly */
    const char *key; /* member name inside an object */
    fj *next;        /* next item or member */
    fj *child;       /* first item or member (not used when nums is set) */
    size_t n;        /* items or members */
    double *nums;    /* FJ_ARR of numbers only: the n numbers */
    double num;      /* FJ_NUM */
    const char *str; /* FJ_STR, NUL-terminated */
    size_t len;      /* FJ_STR length */
    const char *src; /* FJ_NUM and FJ_ARR: where the value starts in the text */
};

/* Parses text (len bytes, no NUL needed); errors name the byte offset and the problem. */
int fj_parse(const char *text, size_t len, fm_arena *arena, fj **out, fm_err *err);
const fj *fj_get(const fj *obj, const char *key); /* NULL when absent or obj is not an object */
double fj_num_exact(const char *src, bool exact, double fast);

/* Decodes a v2 request from an already parsed JSON object (no binary part). */
int fn_v2_request_from_json(const fj *root, fn_v2_request *req, fm_err *err);

/* IEEE half and bfloat16 <-> float (round to nearest even). */
float fn_half_to_float(uint16_t h);
uint16_t fn_float_to_half(float f);
float fn_bf16_to_float(uint16_t h);
uint16_t fn_float_to_bf16(float f);

/* Appends a float as "%.9g" would write it (finite values only), without printf. */
int fn_put_float9(fn_buf *out, double v);

/* "[1,3,-1]" into buf (always NUL-terminated). */
void fn_shape_str(const int64_t *dims, int ndim, char *buf, size_t cap);

/* Reads element i of t as a double (for top-k and tests); 0 for BYTES. */
double fn_tensor_get(const infer_tensor *t, size_t i);

/* The image size (H x W) the handler's single FP32 4-D input takes under preprocess pp; errors
 * name the input when it cannot take images or the sizes disagree. */
int fn_image_geometry(const fn_handler *h, const fn_preprocess *pp, int *H, int *W, fm_err *err);

/* Sets *reply to an error reply {"error": msg} with status and Lambda error type. */
void fn_reply_error(fn_reply *r, int status, const char *error_type, const char *msg);

/* Model URLs (file://, http://, https://) are copied into task_dir; local gets the file path. */
bool fn_model_is_url(const char *src);
int fn_model_fetch(const char *url, const char *task_dir, char *local, size_t cap, fm_err *err);

/* Seconds since this process was started (exec), from /proc; 0 when unknown. */
int64_t fn_process_age_ns(void);

#endif
