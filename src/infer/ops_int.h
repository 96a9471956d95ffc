/* ops_int.h — private to src/infer: kernel entry points named by the op table in ops.c. */
#ifndef FM_INFER_OPS_INT_H
#define FM_INFER_OPS_INT_H

#include "infer/infer_int.h"

bool infer__op_is(const step *st, const char *name);
int infer__norm_axis(const step *st, int64_t axis, int rank, int *out, fm_err *err);
int infer__broadcast_shape(const step *st, const int64_t *a, int na, const int64_t *b, int nb,
                    int64_t *out, int *nout, fm_err *err);

/* ops_nn.c: window geometry shared by Conv, pooling and the integer convolutions (input 0 is
 * the data) */
typedef struct win {
    int sp; /* spatial rank 1..3 */
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], out[3];
} win;
int infer__win_params(const step *st, const int64_t *kshape, bool ceil_mode, win *w, fm_err *err);

#define K(name) int name(step *st, fm_err *err);
/* ops.c */
K(infer__shape_same) K(infer__exec_copy)
/* ops_elem.c */
K(infer__exec_unary) K(infer__shape_binary) K(infer__exec_binary) K(infer__shape_where) K(infer__exec_where) K(infer__shape_cast)
K(infer__exec_cast)
/* ops_shape.c */
K(infer__shape_dropout) K(infer__exec_dropout) K(infer__shape_reshape) K(infer__shape_flatten) K(infer__shape_squeeze)
K(infer__shape_unsqueeze) K(infer__shape_transpose) K(infer__exec_transpose) K(infer__shape_concat) K(infer__exec_concat)
K(infer__shape_slice) K(infer__exec_slice) K(infer__shape_gather) K(infer__exec_gather) K(infer__shape_shape) K(infer__exec_shape)
K(infer__shape_size) K(infer__exec_size) K(infer__shape_cofs) K(infer__exec_cofs) K(infer__shape_expand) K(infer__exec_expand)
K(infer__shape_range) K(infer__exec_range)
/* ops_nn.c */
K(infer__shape_conv) K(infer__setup_conv) K(infer__exec_conv) K(infer__shape_pool) K(infer__setup_pool) K(infer__exec_pool) K(infer__shape_gpool)
K(infer__exec_gpool) K(infer__exec_batchnorm) K(shape_softmax) K(infer__exec_softmax) K(infer__shape_layernorm)
K(infer__exec_layernorm) K(infer__shape_reduce) K(infer__exec_reduce)
/* ops_gemm.c */
K(infer__shape_matmul) K(infer__setup_matmul) K(infer__exec_matmul) K(infer__shape_gemm) K(infer__setup_gemm) K(infer__exec_gemm)
/* ops_quant.c */
K(infer__shape_quantize) K(infer__exec_quantize) K(infer__shape_dequantize) K(infer__exec_dequantize) K(infer__shape_dynquant)
K(infer__exec_dynquant) K(infer__shape_matmulint) K(infer__exec_matmulint) K(infer__shape_qlmatmul) K(infer__exec_qlmatmul)
K(infer__shape_convint) K(infer__exec_convint) K(infer__shape_qlconv) K(infer__exec_qlconv) K(infer__shape_qlbinary)
K(infer__exec_qlbinary) K(infer__shape_qlsigmoid) K(infer__exec_qlsigmoid) K(infer__shape_qlgpool) K(infer__exec_qlgpool)
/* qdq.c */
K(infer__setup_qlconv) K(infer__setup_matmulint) K(infer__qdnnl_exec)
#undef K
/* qdq.c: oneDNN int8 kernels usable by this session (any thread count) */
bool infer__int8_wanted(const infer_session *s);
/* qdq.c: QDQ groups found before a plan's walk (qend[ni]: the group's QuantizeLinear node, or
 * -1; qact[ni]: its Relu/Clip or -1); returns how many. Marks the nodes they absorb. */
int infer__qdq_prepass(infer_session *s, int *qend, int *qact);
/* Turns the Conv step of a group into its QLinearConv step, the Add step of a join into its
 * QLinearAdd step. */
int infer__qdq_group_step(infer_session *s, step *st, int ni, int qn, int an, fm_err *err);
void infer__release_xnn(step *st);

/* Y[rows, n] = A[rows, k] B (B is [k, n], or [n, k] when b_trans) + bias, clamped to [lo, hi];
 * OpenBLAS single-threaded on blocks of rows spread over the session's pool. */
void infer__gemm_rows(const infer_session *s, int64_t rows, int64_t k, int64_t n, const float *a,
               const float *b, bool b_trans, const float *bias, float lo, float hi, float *y);

/* dnnl_conv.c: 2-D convolution on oneDNN for 1-thread sessions */
typedef struct dnnl_conv_geom {
    int64_t n, c, h, w, m, oh, ow, g, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
} dnnl_conv_geom;
bool infer__dnnl_wanted(const infer_session *s);
int infer__dnnl_conv_setup(step *st, const dnnl_conv_geom *g, fm_err *err);
/* Y[rows, n] = X[rows, k] W[k, n] (+ bias); 1 when oneDNN has no fast kernel. */
int infer__dnnl_matmul_setup(step *st, int64_t rows, int64_t k, int64_t n, const float *bias, fm_err *err);
int infer__dnnl_step_exec(step *st, fm_err *err);

/* Transposes a [rows, cols] float matrix block-wise (also used for NCHW <-> NHWC). */
void infer__transpose2d_f32(const float *src, float *dst, size_t rows, size_t cols);

#endif
