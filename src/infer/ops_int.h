/* ops_int.h — private to src/infer: the operator list (INFER_OP_MAP), its enum and table, and the
 * kernel entry points the table names. */
#ifndef FM_INFER_OPS_INT_H
#define FM_INFER_OPS_INT_H

#include "infer/infer_int.h"

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

#define K(name) int name(step *st, fm_err *err)
/* ops.c */
K(infer__shape_same);
K(infer__exec_copy);
/* ops_elem.c */
K(infer__exec_unary);
K(infer__shape_binary);
K(infer__exec_binary);
K(infer__shape_where);
K(infer__exec_where);
K(infer__shape_cast);
K(infer__exec_cast);
/* ops_shape.c */
K(infer__shape_dropout);
K(infer__exec_dropout);
K(infer__shape_reshape);
K(infer__shape_flatten);
K(infer__shape_squeeze);
K(infer__shape_unsqueeze);
K(infer__shape_transpose);
K(infer__exec_transpose);
K(infer__shape_concat);
K(infer__exec_concat);
K(infer__shape_slice);
K(infer__exec_slice);
K(infer__shape_gather);
K(infer__exec_gather);
K(infer__shape_shape);
K(infer__exec_shape);
K(infer__shape_size);
K(infer__exec_size);
K(infer__shape_cofs);
K(infer__exec_cofs);
K(infer__shape_expand);
K(infer__exec_expand);
K(infer__shape_range);
K(infer__exec_range);
/* ops_nn.c */
K(infer__shape_conv);
K(infer__setup_conv);
K(infer__exec_conv);
K(infer__shape_pool);
K(infer__setup_pool);
K(infer__exec_pool);
K(infer__shape_gpool);
K(infer__exec_gpool);
K(infer__exec_batchnorm);
K(shape_softmax);
K(infer__exec_softmax);
K(infer__shape_layernorm);
K(infer__exec_layernorm);
K(infer__shape_reduce);
K(infer__exec_reduce);
/* ops_gemm.c */
K(infer__shape_matmul);
K(infer__setup_matmul);
K(infer__exec_matmul);
K(infer__shape_gemm);
K(infer__setup_gemm);
K(infer__exec_gemm);
/* ops_quant.c */
K(infer__shape_quantize);
K(infer__exec_quantize);
K(infer__shape_dequantize);
K(infer__exec_dequantize);
K(infer__shape_dynquant);
K(infer__exec_dynquant);
K(infer__shape_matmulint);
K(infer__exec_matmulint);
K(infer__shape_qlmatmul);
K(infer__exec_qlmatmul);
K(infer__shape_convint);
K(infer__exec_convint);
K(infer__shape_qlconv);
K(infer__exec_qlconv);
K(infer__shape_qlbinary);
K(infer__exec_qlbinary);
K(infer__shape_qlsigmoid);
K(infer__exec_qlsigmoid);
K(infer__shape_qlgpool);
K(infer__exec_qlgpool);
/* qdq.c */
K(infer__setup_qlconv);
K(infer__setup_matmulint);
K(infer__qdnnl_exec);
#undef K

/*
 * The operator list: one row per ONNX operator the runtime runs; the loader refuses anything not
 * listed. Expanded into the infer_op enum (INFER_OP_<E>), and in ops.c into infer__ops[] (name,
 * attributes, arity, kernels). Nodes resolve their op_type to the enum once at load (inode.op);
 * planning and kernels compare enums, never names.
 *   X(E, name, attrs, min_in, max_in, min_out, max_out, shape, setup, exec, release, alias, ms)
 * attrs: comma-separated attributes the kernel honours; alias: output 0 shares input 0's storage
 * (reshape-like); ms: also accepted in the com.microsoft domain (as onnxruntime emits it).
 */
#define INFER_OP_MAP(X)                                                                            \
    /* elementwise (ops_elem.c) */                                                                 \
    X(RELU, "Relu", "", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL, false,       \
      false)                                                                                       \
    X(SIGMOID, "Sigmoid", "", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL, false, \
      false)                                                                                       \
    X(TANH, "Tanh", "", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL, false,       \
      false)                                                                                       \
    X(ERF, "Erf", "", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL, false, false)  \
    X(SQRT, "Sqrt", "", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL, false,       \
      false)                                                                                       \
    X(EXP, "Exp", "", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL, false, false)  \
    X(LOG, "Log", "", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL, false, false)  \
    X(ABS, "Abs", "", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL, false, false)  \
    X(NEG, "Neg", "", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL, false, false)  \
    X(FLOOR, "Floor", "", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL, false,     \
      false)                                                                                       \
    X(CEIL, "Ceil", "", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL, false,       \
      false)                                                                                       \
    X(RECIPROCAL, "Reciprocal", "", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL,  \
      false, false)                                                                                \
    X(HARD_SWISH, "HardSwish", "", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL,   \
      false, false)                                                                                \
    X(SOFTPLUS, "Softplus", "", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL,      \
      false, false)                                                                                \
    X(HARD_SIGMOID, "HardSigmoid", "alpha,beta", 1, 1, 1, 1, infer__shape_same, NULL,              \
      infer__exec_unary, NULL, false, false)                                                       \
    X(LEAKY_RELU, "LeakyRelu", "alpha", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary,    \
      NULL, false, false)                                                                          \
    X(ELU, "Elu", "alpha", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL, false,    \
      false)                                                                                       \
    X(NOT, "Not", "", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL, false, false)  \
    X(SIN, "Sin", "", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL, false, false)  \
    X(COS, "Cos", "", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL, false, false)  \
    X(GELU, "Gelu", "approximate", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL,   \
      false, false)                                                                                \
    X(ROUND, "Round", "", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL, false,     \
      false)                                                                                       \
    X(CLIP, "Clip", "min,max", 1, 3, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL,       \
      false, false)                                                                                \
    X(ADD, "Add", "", 2, 2, 1, 1, infer__shape_binary, NULL, infer__exec_binary, NULL, false,      \
      false)                                                                                       \
    X(SUB, "Sub", "", 2, 2, 1, 1, infer__shape_binary, NULL, infer__exec_binary, NULL, false,      \
      false)                                                                                       \
    X(MUL, "Mul", "", 2, 2, 1, 1, infer__shape_binary, NULL, infer__exec_binary, NULL, false,      \
      false)                                                                                       \
    X(DIV, "Div", "", 2, 2, 1, 1, infer__shape_binary, NULL, infer__exec_binary, NULL, false,      \
      false)                                                                                       \
    X(POW, "Pow", "", 2, 2, 1, 1, infer__shape_binary, NULL, infer__exec_binary, NULL, false,      \
      false)                                                                                       \
    X(EQUAL, "Equal", "", 2, 2, 1, 1, infer__shape_binary, NULL, infer__exec_binary, NULL, false,  \
      false)                                                                                       \
    X(LESS, "Less", "", 2, 2, 1, 1, infer__shape_binary, NULL, infer__exec_binary, NULL, false,    \
      false)                                                                                       \
    X(GREATER, "Greater", "", 2, 2, 1, 1, infer__shape_binary, NULL, infer__exec_binary, NULL,     \
      false, false)                                                                                \
    X(LESS_OR_EQUAL, "LessOrEqual", "", 2, 2, 1, 1, infer__shape_binary, NULL, infer__exec_binary, \
      NULL, false, false)                                                                          \
    X(GREATER_OR_EQUAL, "GreaterOrEqual", "", 2, 2, 1, 1, infer__shape_binary, NULL,               \
      infer__exec_binary, NULL, false, false)                                                      \
    X(AND, "And", "", 2, 2, 1, 1, infer__shape_binary, NULL, infer__exec_binary, NULL, false,      \
      false)                                                                                       \
    X(OR, "Or", "", 2, 2, 1, 1, infer__shape_binary, NULL, infer__exec_binary, NULL, false, false) \
    X(XOR, "Xor", "", 2, 2, 1, 1, infer__shape_binary, NULL, infer__exec_binary, NULL, false,      \
      false)                                                                                       \
    X(MAX, "Max", "", 1, 8, 1, 1, infer__shape_binary, NULL, infer__exec_binary, NULL, false,      \
      false)                                                                                       \
    X(MIN, "Min", "", 1, 8, 1, 1, infer__shape_binary, NULL, infer__exec_binary, NULL, false,      \
      false)                                                                                       \
    X(SUM, "Sum", "", 1, 8, 1, 1, infer__shape_binary, NULL, infer__exec_binary, NULL, false,      \
      false)                                                                                       \
    X(WHERE, "Where", "", 3, 3, 1, 1, infer__shape_where, NULL, infer__exec_where, NULL, false,    \
      false)                                                                                       \
    X(CAST, "Cast", "to,saturate", 1, 1, 1, 1, infer__shape_cast, NULL, infer__exec_cast, NULL,    \
      false, false)                                                                                \
    /* shapes and data movement (ops_shape.c) */                                                   \
    X(IDENTITY, "Identity", "", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_copy, NULL, true, \
      false)                                                                                       \
    X(DROPOUT, "Dropout", "ratio,seed", 1, 3, 1, 2, infer__shape_dropout, NULL,                    \
      infer__exec_dropout, NULL, true, false)                                                      \
    X(RESHAPE, "Reshape", "allowzero", 2, 2, 1, 1, infer__shape_reshape, NULL, infer__exec_copy,   \
      NULL, true, false)                                                                           \
    X(FLATTEN, "Flatten", "axis", 1, 1, 1, 1, infer__shape_flatten, NULL, infer__exec_copy, NULL,  \
      true, false)                                                                                 \
    X(SQUEEZE, "Squeeze", "axes", 1, 2, 1, 1, infer__shape_squeeze, NULL, infer__exec_copy, NULL,  \
      true, false)                                                                                 \
    X(UNSQUEEZE, "Unsqueeze", "axes", 1, 2, 1, 1, infer__shape_unsqueeze, NULL, infer__exec_copy,  \
      NULL, true, false)                                                                           \
    X(TRANSPOSE, "Transpose", "perm", 1, 1, 1, 1, infer__shape_transpose, NULL,                    \
      infer__exec_transpose, NULL, false, false)                                                   \
    X(CONCAT, "Concat", "axis", 1, 64, 1, 1, infer__shape_concat, NULL, infer__exec_concat, NULL,  \
      false, false)                                                                                \
    X(SLICE, "Slice", "starts,ends,axes", 1, 5, 1, 1, infer__shape_slice, NULL, infer__exec_slice, \
      NULL, false, false)                                                                          \
    X(GATHER, "Gather", "axis", 2, 2, 1, 1, infer__shape_gather, NULL, infer__exec_gather, NULL,   \
      false, false)                                                                                \
    X(SHAPE, "Shape", "start,end", 1, 1, 1, 1, infer__shape_shape, NULL, infer__exec_shape, NULL,  \
      false, false)                                                                                \
    X(SIZE, "Size", "", 1, 1, 1, 1, infer__shape_size, NULL, infer__exec_size, NULL, false, false) \
    X(CONSTANT_OF_SHAPE, "ConstantOfShape", "value", 1, 1, 1, 1, infer__shape_cofs, NULL,          \
      infer__exec_cofs, NULL, false, false)                                                        \
    X(EXPAND, "Expand", "", 2, 2, 1, 1, infer__shape_expand, NULL, infer__exec_expand, NULL,       \
      false, false)                                                                                \
    X(RANGE, "Range", "", 3, 3, 1, 1, infer__shape_range, NULL, infer__exec_range, NULL, false,    \
      false)                                                                                       \
    /* neural network (ops_nn.c, ops_gemm.c) */                                                    \
    X(CONV, "Conv", "auto_pad,dilations,group,kernel_shape,pads,strides", 2, 3, 1, 1,              \
      infer__shape_conv, infer__setup_conv, infer__exec_conv, infer__release_xnn, false, false)    \
    X(MAX_POOL, "MaxPool", "auto_pad,ceil_mode,dilations,kernel_shape,pads,storage_order,strides", \
      1, 1, 1, 1, infer__shape_pool, infer__setup_pool, infer__exec_pool, infer__release_xnn,      \
      false, false)                                                                                \
    X(AVERAGE_POOL, "AveragePool",                                                                 \
      "auto_pad,ceil_mode,count_include_pad,kernel_shape,pads,strides", 1, 1, 1, 1,                \
      infer__shape_pool, NULL, infer__exec_pool, NULL, false, false)                               \
    X(GLOBAL_AVERAGE_POOL, "GlobalAveragePool", "", 1, 1, 1, 1, infer__shape_gpool, NULL,          \
      infer__exec_gpool, NULL, false, false)                                                       \
    X(GLOBAL_MAX_POOL, "GlobalMaxPool", "", 1, 1, 1, 1, infer__shape_gpool, NULL,                  \
      infer__exec_gpool, NULL, false, false)                                                       \
    X(BATCH_NORMALIZATION, "BatchNormalization", "epsilon,momentum,training_mode,spatial", 5, 5,   \
      1, 1, infer__shape_same, NULL, infer__exec_batchnorm, NULL, false, false)                    \
    X(MATMUL, "MatMul", "", 2, 2, 1, 1, infer__shape_matmul, infer__setup_matmul,                  \
      infer__exec_matmul, infer__release_xnn, false, false)                                        \
    X(GEMM, "Gemm", "alpha,beta,transA,transB", 2, 3, 1, 1, infer__shape_gemm, infer__setup_gemm,  \
      infer__exec_gemm, infer__release_xnn, false, false)                                          \
    X(SOFTMAX, "Softmax", "axis", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_softmax, NULL,  \
      false, false)                                                                                \
    X(LOG_SOFTMAX, "LogSoftmax", "axis", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_softmax, \
      NULL, false, false)                                                                          \
    X(LAYER_NORMALIZATION, "LayerNormalization", "axis,epsilon,stash_type", 2, 3, 1, 3,            \
      infer__shape_layernorm, NULL, infer__exec_layernorm, NULL, false, false)                     \
    X(REDUCE_MEAN, "ReduceMean", "axes,keepdims,noop_with_empty_axes", 1, 2, 1, 1,                 \
      infer__shape_reduce, NULL, infer__exec_reduce, NULL, false, false)                           \
    X(REDUCE_SUM, "ReduceSum", "axes,keepdims,noop_with_empty_axes", 1, 2, 1, 1,                   \
      infer__shape_reduce, NULL, infer__exec_reduce, NULL, false, false)                           \
    X(REDUCE_MAX, "ReduceMax", "axes,keepdims,noop_with_empty_axes", 1, 2, 1, 1,                   \
      infer__shape_reduce, NULL, infer__exec_reduce, NULL, false, false)                           \
    X(REDUCE_MIN, "ReduceMin", "axes,keepdims,noop_with_empty_axes", 1, 2, 1, 1,                   \
      infer__shape_reduce, NULL, infer__exec_reduce, NULL, false, false)                           \
    X(REDUCE_PROD, "ReduceProd", "axes,keepdims,noop_with_empty_axes", 1, 2, 1, 1,                 \
      infer__shape_reduce, NULL, infer__exec_reduce, NULL, false, false)                           \
    X(REDUCE_SUM_SQUARE, "ReduceSumSquare", "axes,keepdims,noop_with_empty_axes", 1, 2, 1, 1,      \
      infer__shape_reduce, NULL, infer__exec_reduce, NULL, false, false)                           \
    X(REDUCE_L2, "ReduceL2", "axes,keepdims,noop_with_empty_axes", 1, 2, 1, 1,                     \
      infer__shape_reduce, NULL, infer__exec_reduce, NULL, false, false)                           \
    /* quantized (ops_quant.c, qdq.c); QLinear elementwise and pooling: com.microsoft's */         \
    X(QUANTIZE_LINEAR, "QuantizeLinear", "axis", 2, 3, 1, 1, infer__shape_quantize, NULL,          \
      infer__exec_quantize, NULL, false, false)                                                    \
    X(DEQUANTIZE_LINEAR, "DequantizeLinear", "axis", 2, 3, 1, 1, infer__shape_dequantize, NULL,    \
      infer__exec_dequantize, NULL, false, false)                                                  \
    X(DYNAMIC_QUANTIZE_LINEAR, "DynamicQuantizeLinear", "", 1, 1, 3, 3, infer__shape_dynquant,     \
      NULL, infer__exec_dynquant, NULL, false, false)                                              \
    X(MATMUL_INTEGER, "MatMulInteger", "", 2, 4, 1, 1, infer__shape_matmulint,                     \
      infer__setup_matmulint, infer__exec_matmulint, NULL, false, false)                           \
    X(QLINEAR_MATMUL, "QLinearMatMul", "", 8, 8, 1, 1, infer__shape_qlmatmul, NULL,                \
      infer__exec_qlmatmul, NULL, false, false)                                                    \
    X(CONV_INTEGER, "ConvInteger", "auto_pad,dilations,group,kernel_shape,pads,strides", 2, 4, 1,  \
      1, infer__shape_convint, NULL, infer__exec_convint, NULL, false, false)                      \
    X(QLINEAR_CONV, "QLinearConv", "auto_pad,dilations,group,kernel_shape,pads,strides", 8, 9, 1,  \
      1, infer__shape_qlconv, infer__setup_qlconv, infer__exec_qlconv, NULL, false, false)         \
    X(QLINEAR_ADD, "QLinearAdd", "", 7, 8, 1, 1, infer__shape_qlbinary, NULL,                      \
      infer__exec_qlbinary, NULL, false, true)                                                     \
    X(QLINEAR_MUL, "QLinearMul", "", 7, 8, 1, 1, infer__shape_qlbinary, NULL,                      \
      infer__exec_qlbinary, NULL, false, true)                                                     \
    X(QLINEAR_SIGMOID, "QLinearSigmoid", "", 4, 5, 1, 1, infer__shape_qlsigmoid, NULL,             \
      infer__exec_qlsigmoid, NULL, false, true)                                                    \
    X(QLINEAR_GLOBAL_AVERAGE_POOL, "QLinearGlobalAveragePool", "channels_last", 4, 5, 1, 1,        \
      infer__shape_qlgpool, NULL, infer__exec_qlgpool, NULL, false, true)                          \
    /* end of INFER_OP_MAP */

typedef enum infer_op {
#define INFER_XX(e, ...) INFER_OP_##e,
    INFER_OP_MAP(INFER_XX)
#undef INFER_XX
        INFER_OP__COUNT
} infer_op;

typedef struct op_def {
    const char *name;  /* the ONNX op_type */
    const char *attrs; /* comma-separated attributes the kernel honours */
    int min_in, max_in, min_out, max_out;
    /* Sets out shapes/dtypes; may read constant inputs. Also sets scratch_bytes. */
    int (*shape)(step *st, fm_err *err);
    /* Optional: create / set up library operators once shapes and buffers are known. */
    int (*setup)(step *st, fm_err *err);
    int (*exec)(step *st, fm_err *err);
    void (*release)(step *st);
    bool alias;     /* output 0 shares input 0's storage (reshape-like) */
    bool ms_domain; /* also accepted in the com.microsoft domain */
} op_def;

/* One row per infer_op, generated from INFER_OP_MAP (ops.c). */
extern const op_def infer__ops[];
/* The op named name, or -1 when unknown; loading resolves each node once (inode.op). */
int infer__op_find(const char *name);

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
                      const float *b, bool b_trans, const float *bias, float lo, float hi,
                      float *y);

/* dnnl_conv.c: 2-D convolution on oneDNN for 1-thread sessions */
typedef struct dnnl_conv_geom {
    int64_t n, c, h, w, m, oh, ow, g, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
} dnnl_conv_geom;
bool infer__dnnl_wanted(const infer_session *s);
int infer__dnnl_conv_setup(step *st, const dnnl_conv_geom *g, fm_err *err);
/* Y[rows, n] = X[rows, k] W[k, n] (+ bias); 1 when oneDNN has no fast kernel. */
int infer__dnnl_matmul_setup(step *st, int64_t rows, int64_t k, int64_t n, const float *bias,
                             fm_err *err);
int infer__dnnl_step_exec(step *st, fm_err *err);

/* Transposes a [rows, cols] float matrix block-wise (also used for NCHW <-> NHWC). */
void infer__transpose2d_f32(const float *src, float *dst, size_t rows, size_t cols);

#endif
