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

/* IEEE half and bfloat16 <-> float (round to nearest even). */
float fn_half_to_float(uint16_t h);
uint16_t fn_float_to_half(float f);
float fn_bf16_to_float(uint16_t h);
uint16_t fn_float_to_bf16(float f);

/* "[1,3,-1]" into buf (always NUL-terminated). */
void fn_shape_str(const int64_t *dims, int ndim, char *buf, size_t cap);

/* Reads element i of t as a double (for top-k and tests); 0 for BYTES. */
double fn_tensor_get(const infer_tensor *t, size_t i);

/* Sets *reply to an error reply {"error": msg} with status and Lambda error type. */
void fn_reply_error(fn_reply *r, int status, const char *error_type, const char *msg);

/* Model URLs (file://, http://, https://) are copied into task_dir; local gets the file path. */
bool fn_model_is_url(const char *src);
int fn_model_fetch(const char *url, const char *task_dir, char *local, size_t cap, fm_err *err);

/* Seconds since this process was started (exec), from /proc; 0 when unknown. */
int64_t fn_process_age_ns(void);

#endif
