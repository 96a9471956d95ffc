/* Data type names and sizes, generated from INFER_DTYPE_MAP so the tables cannot drift. */
#include <strings.h>

#include "infer/infer.h"

static const struct {
    infer_dtype t;
    const char *name;
    size_t size;
} dtype_table[] = {
#define INFER_XX(name, onnx, size) {INFER_DTYPE_##name, #name, size},
    INFER_DTYPE_MAP(INFER_XX)
#undef INFER_XX
};

/* Why: KServe names appear in protocols and the CLI; one table serves both directions. */
const char *infer_dtype_name(infer_dtype t)
{
    for (size_t i = 0; i < FM_ARRAY_LEN(dtype_table); i++)
        if (dtype_table[i].t == t)
            return dtype_table[i].name;
    return "UNDEFINED";
}

/* Why: requests and options name types as text; unknown names are an input error. */
int infer_dtype_parse(const char *name, infer_dtype *out)
{
    for (size_t i = 0; i < FM_ARRAY_LEN(dtype_table); i++)
        if (strcasecmp(dtype_table[i].name, name) == 0) {
            *out = dtype_table[i].t;
            return 0;
        }
    return FM_EINVAL;
}

/* Why: every buffer size in the runtime derives from this; 0 marks types we cannot lay out. */
size_t infer_dtype_size(infer_dtype t)
{
    for (size_t i = 0; i < FM_ARRAY_LEN(dtype_table); i++)
        if (dtype_table[i].t == t)
            return dtype_table[i].size;
    return 0;
}

/* Why: one overflow-checked element count used by every shape computation. */
int64_t infer_tensor_numel(const infer_tensor *t)
{
    int64_t n = 1;
    if (t->ndim < 0 || t->ndim > INFER_MAX_DIMS)
        return -1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->dims[i] < 0)
            return -1;
        if (__builtin_mul_overflow(n, t->dims[i], &n))
            return -1;
    }
    return n;
}
