// The names of the unary ops, as X-macro lists: the enum (core/backend.h), the op methods
// (core/ops/methods.h), the registry entries (core/ops/unary.cpp) and every backend's functors
// (kernels/elementwise_ops.h) all expand them, so a new unary op is one line here plus its functor and
// its backward formula.
#pragma once

/// Unary ops, one list shared by the enum, the names and every backend's functors
/// (kernels/elementwise_ops.h). Float ops take float32/float64 (the front end promotes integers);
/// the others keep the input's dtype; predicates write bool.
#define TD_FLOAT_UNARY_OPS(X)                                                                                  \
  X(Exp, exp) X(Exp2, exp2) X(Expm1, expm1) X(Log, log) X(Log2, log2) X(Log10, log10) X(Log1p, log1p)          \
  X(Sqrt, sqrt) X(Rsqrt, rsqrt) X(Sin, sin) X(Cos, cos) X(Tan, tan) X(Asin, asin) X(Acos, acos) X(Atan, atan) \
  X(Sinh, sinh) X(Cosh, cosh) X(Tanh, tanh) X(Asinh, asinh) X(Acosh, acosh) X(Atanh, atanh)                 \
  X(Sigmoid, sigmoid) X(Erf, erf) X(Erfc, erfc) X(Erfinv, erfinv) X(Reciprocal, reciprocal) X(Frac, frac)
#define TD_ANY_UNARY_OPS(X) \
  X(Abs, abs) X(Neg, neg) X(Sign, sign) X(Sgn, sgn) X(Floor, floor) X(Ceil, ceil) X(Round, round) X(Trunc, trunc) X(Relu, relu)       \
  X(BitwiseNot, bitwise_not)
#define TD_PREDICATE_UNARY_OPS(X) X(Isnan, isnan) X(Isinf, isinf) X(Isfinite, isfinite) X(LogicalNot, logical_not)

