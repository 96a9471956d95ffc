/* Top-k class output for classifiers: the k best classes of each batch item, with scores
 * (optionally softmax probabilities) and labels. */
#include "fn/fn_int.h"

#include <math.h>
#include <stdlib.h>

typedef struct topk_item {
    double score;
    size_t cls;
} topk_item;

/* Why: keeps the k best in a small sorted array; k is small (5), classes many (1000). */
static void topk_insert(topk_item *best, int *n, int k, double score, size_t cls)
{
    if (*n == k && score <= best[k - 1].score)
        return;
    int i = *n < k ? (*n)++ : k - 1;
    while (i > 0 && best[i - 1].score < score) {
        best[i] = best[i - 1];
        i--;
    }
    best[i].score = score;
    best[i].cls = cls;
}

int fn_topk_encode(const infer_tensor *scores, int k, bool softmax, char *const *labels,
                   size_t n_labels, fn_buf *out, fm_err *err)
{
    if (scores->ndim < 1 || scores->dims[0] < 1 || infer_dtype_size(scores->dtype) == 0 ||
        scores->dtype == INFER_DTYPE_BOOL)
        return fm_err_set(err, FM_ESHAPE,
                          "output '%s' cannot give top-k classes (it needs a numeric [N,C] shape)",
                          scores->name ? scores->name : "?");
    int64_t total = infer_tensor_numel(scores);
    size_t batch = (size_t)scores->dims[0], classes = (size_t)total / batch;
    if (classes == 0)
        return fm_err_set(err, FM_ESHAPE, "output '%s' has no classes", scores->name);
    if (k > (int)FM_MIN(classes, 1000))
        k = (int)FM_MIN(classes, 1000);
    topk_item *best = malloc((size_t)k * sizeof *best);
    if (!best)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    int rc = fn_buf_puts(out, "{\"predictions\":[");
    for (size_t b = 0; b < batch && !rc; b++) {
        size_t base = b * classes;
        double max = -INFINITY, sum = 0;
        if (softmax) {
            for (size_t c = 0; c < classes; c++)
                max = fmax(max, fn_tensor_get(scores, base + c));
            for (size_t c = 0; c < classes; c++)
                sum += exp(fn_tensor_get(scores, base + c) - max);
        }
        int n = 0;
        for (size_t c = 0; c < classes; c++)
            topk_insert(best, &n, k, fn_tensor_get(scores, base + c), c);
        rc = fn_buf_puts(out, b ? ",[" : "[");
        for (int i = 0; i < n && !rc; i++) {
            double s = softmax ? exp(best[i].score - max) / sum : best[i].score;
            if (!isfinite(s))
                s = 0;
            rc =
                fn_buf_printf(out, "%s{\"class\":%zu,\"score\":%.6g", i ? "," : "", best[i].cls, s);
            if (!rc && labels && best[i].cls < n_labels) {
                rc = fn_buf_puts(out, ",\"label\":");
                rc = rc ? rc : fn_buf_json_str(out, labels[best[i].cls]);
            }
            rc = rc ? rc : fn_buf_puts(out, "}");
        }
        rc = rc ? rc : fn_buf_puts(out, "]");
    }
    rc = rc ? rc : fn_buf_puts(out, "]}");
    free(best);
    return rc ? fm_err_set(err, rc, "out of memory encoding top-k classes") : 0;
}
