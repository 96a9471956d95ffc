/* ops_int.h — private to src/infer: kernel entry points named by the op table in ops.c. */
#ifndef FM_INFER_OPS_INT_H
#define FM_INFER_OPS_INT_H

#include "infer/infer_int.h"

bool op_is(const step *st, const char *name);
int norm_axis(const step *st, int64_t axis, int rank, int *out, fm_err *err);
int broadcast_shape(const step *st, const int64_t *a, int na, const int64_t *b, int nb,
                    int64_t *out, int *nout, fm_err *err);

/* ops_nn.c: window geometry shared by Conv, pooling and the integer convolutions (input 0 is
 * the data) */
typedef struct win {
    int sp; /* spatial rank 1..3 */
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], out[3];
} win;
int win_params(const step *st, const int64_t *kshape, bool ceil_mode, win *w, fm_err *err);

#define K(name) int name(step *st, fm_err *err);
/* ops.c */
K(shape_same) K(exec_copy)
/* ops_elem.c */
K(exec_unary) K(shape_binary) K(exec_binary) K(shape_where) K(exec_where) K(shape_cast)
K(exec_cast)
/* ops_shape.c */
K(shape_dropout) K(exec_dropout) K(shape_reshape) K(shape_flatten) K(shape_squeeze)
K(shape_unsqueeze) K(shape_transpose) K(exec_transpose) K(shape_concat) K(exec_concat)
K(shape_slice) K(exec_slice) K(shape_gather) K(exec_gather) K(shape_shape) K(exec_shape)
K(shape_size) K(exec_size) K(shape_cofs) K(exec_cofs) K(shape_expand) K(exec_expand)
K(shape_range) K(exec_range)
/* ops_nn.c */
K(shape_conv) K(setup_conv) K(exec_conv) K(shape_pool) K(setup_pool) K(exec_pool) K(shape_gpool)
K(exec_gpool) K(exec_batchnorm) K(shape_softmax) K(exec_softmax) K(shape_layernorm)
K(exec_layernorm) K(shape_reduce) K(exec_reduce)
/* ops_gemm.c */
K(shape_matmul) K(setup_matmul) K(exec_matmul) K(shape_gemm) K(setup_gemm) K(exec_gemm)
/* ops_quant.c */
K(shape_quantize) K(exec_quantize) K(shape_dequantize) K(exec_dequantize) K(shape_dynquant)
K(exec_dynquant) K(shape_matmulint) K(exec_matmulint) K(shape_qlmatmul) K(exec_qlmatmul)
K(shape_convint) K(exec_convint) K(shape_qlconv) K(exec_qlconv) K(shape_qlbinary)
K(exec_qlbinary) K(shape_qlsigmoid) K(exec_qlsigmoid) K(shape_qlgpool) K(exec_qlgpool)
/* qdq.c */
K(setup_qlconv) K(setup_matmulint) K(qdnnl_exec)
#undef K
/* qdq.c: oneDNN int8 kernels usable by this session (any thread count) */
bool int8_wanted(const infer_session *s);
/* qdq.c: QDQ groups found before a plan's walk (qend[ni]: the group's QuantizeLinear node, or
 * -1; qact[ni]: its Relu/Clip or -1); returns how many. Marks the nodes they absorb. */
int qdq_prepass(infer_session *s, int *qend, int *qact);
/* Turns the Conv step of a group into its QLinearConv step, the Add step of a join into its
 * QLinearAdd step. */
int qdq_group_step(infer_session *s, step *st, int ni, int qn, int an, fm_err *err);
void release_xnn(step *st);

/* Y[rows, n] = A[rows, k] B (B is [k, n], or [n, k] when b_trans) + bias, clamped to [lo, hi];
 * OpenBLAS single-threaded on blocks of rows spread over the session's pool. */
void gemm_rows(const infer_session *s, int64_t rows, int64_t k, int64_t n, const float *a,
               const float *b, bool b_trans, const float *bias, float lo, float hi, float *y);

/* dnnl_conv.c: 2-D convolution on oneDNN for 1-thread sessions */
typedef struct dnnl_conv_geom {
    int64_t n, c, h, w, m, oh, ow, g, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
} dnnl_conv_geom;
bool dnnl_wanted(const infer_session *s);
int dnnl_conv_setup(step *st, const dnnl_conv_geom *g, fm_err *err);
/* Y[rows, n] = X[rows, k] W[k, n] (+ bias); 1 when oneDNN has no fast kernel. */
int dnnl_matmul_setup(step *st, int64_t rows, int64_t k, int64_t n, const float *bias, fm_err *err);
int dnnl_step_exec(step *st, fm_err *err);

/* Transposes a [rows, cols] float matrix block-wise (also used for NCHW <-> NHWC). */
void transpose2d_f32(const float *src, float *dst, size_t rows, size_t cols);

#endif
