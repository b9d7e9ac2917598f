// The op registry: the single source of truth for every op (DESIGN.md invariant 1). Each op is declared once
// with a PyTorch-style signature, a front end (validation + kernels) and a backward formula in public ops.
// The C++ API, the remote protocol and `tensorctl ops` all read it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/autograd/node.h"
#include "core/tensor.h"

namespace td {

/// The argument kinds a signature can name.
enum class ArgType : uint8_t {
  kTensor, kScalar, kInt, kIntList, kBool, kFloat, kScalarType, kDevice, kString,
  kTensorList,  // `Tensor[]`: cat's and stack's inputs; `Tensor?[]` (index's) may hold undefined tensors
};

/// One parsed argument of a signature: `int[2] stride=1`, `Tensor? bias=None`, `*, Scalar alpha=1`.
struct ArgSpec {
  std::string name;
  ArgType type;
  bool optional = false;       // `Type?`: accepts None
  bool keyword_only = false;   // after `*`
  int list_size = 0;           // `int[2]`: a single int is repeated to this length
  bool optional_elements = false;  // `Tensor?[]`: elements may be None (undefined tensors)
  std::optional<Value> default_value;
  std::string type_str;        // as written, for error messages and `tensorctl ops`
};

/// A parsed signature: `name(args) -> returns`.
struct Schema {
  std::string name;
  std::vector<ArgSpec> args;
  std::vector<std::string> returns;
  std::string text;

  /// Parses PyTorch's native_functions.yaml style; throws INTERNAL on a malformed signature (a bug in core).
  static Schema parse(std::string_view text);
};

/// Validated arguments of one call, in signature order with defaults filled in.
class Args {
 public:
  Args(const Schema* schema, std::vector<Value> values) : schema_(schema), values_(std::move(values)) {}
  size_t size() const { return values_.size(); }
  bool is_none(size_t i) const { return std::holds_alternative<None>(values_[i]); }
  const Tensor& tensor(size_t i) const;
  /// A `Tensor[]` argument.
  const std::vector<Tensor>& tensors(size_t i) const;
  /// An optional tensor: undefined when None.
  Tensor optional_tensor(size_t i) const;
  Scalar scalar(size_t i) const;
  int64_t int_at(size_t i) const;
  double float_at(size_t i) const;
  bool bool_at(size_t i) const;
  const std::vector<int64_t>& ints(size_t i) const;
  std::optional<std::vector<int64_t>> optional_ints(size_t i) const;
  std::optional<DType> optional_dtype(size_t i) const;
  const std::string& string_at(size_t i) const;
  const Value& value(size_t i) const { return values_[i]; }
  Value& mutable_value(size_t i) { return values_[i]; }
  const Schema& schema() const { return *schema_; }

 private:
  const Schema* schema_;
  std::vector<Value> values_;
};

class GradContext;
/// A front end: validates, promotes, allocates outputs and calls kernels.
using ForwardFn = std::function<std::vector<Tensor>(const Args&)>;
/// A backward formula: gradients of the forward's tensor inputs (in order, each element of a `Tensor[]` one
/// input; undefined for "none"),
/// written in public ops so it can be differentiated again.
using BackwardFn = std::function<std::vector<Tensor>(GradContext&)>;

class JvpContext;
/// A forward-mode AD formula: the tangents of the outputs from the inputs' tangents (core/ops/forward_ad.cpp).
using JvpFn = std::function<std::vector<Tensor>(const JvpContext&)>;

/// How forward-mode AD passes a tangent through a primitive op (core/ops/forward_ad.cpp).
enum class ForwardAd : uint8_t {
  kFromBackward,  // the transpose of the backward formula (which is linear in the output gradients)
  kLinear,        // linear in the tensor arguments OpDef::linear_args names: the op itself, run on their tangents
  kFormula,       // OpDef::jvp
  kSelfAdjoint,   // elementwise on one tensor: the backward formula run on the tangent (real values)
};

/// How autograd treats an op.
enum class AutogradKind : uint8_t {
  kPrimitive,   // has its own backward formula
  kComposite,   // written in other ops, which record the graph themselves
  kNone,        // outputs never require grad (comparisons, indices, creation)
};

/// One registry entry.
struct OpDef {
  Schema schema;
  ForwardFn forward;
  BackwardFn backward;
  AutogradKind autograd = AutogradKind::kPrimitive;
  /// Which tensor inputs (by position among tensor args) the backward reads; others keep only metadata.
  std::vector<int> saved_inputs;
  bool saves_all_inputs = true;
  /// Whether the backward reads the forward's outputs.
  bool saves_outputs = false;
  /// Whether the backward takes an undefined gradient for an output none flowed to (PyTorch's
  /// materialize_grads off), rather than zeros made for it.
  bool undefined_grads = false;
  /// A one-line description for `tensorctl ops` and docs.
  std::string doc;
  /// Whether the backward formula is verified for complex values (PyTorch's convention: for a real loss the
  /// gradient of a complex tensor is dL/dRe + i dL/dIm, so a holomorphic op multiplies the incoming gradient
  /// by the conjugate of its derivative). Recording an op with a complex input or output is refused unless
  /// set, so no complex gradient is silently wrong.
  bool complex_autograd = false;
  /// For an in-place op (`add_`): the new value of self (argument 0) from the arguments. call_op checks it,
  /// writes it into self and rebases self's history (core/ops/inplace.cpp).
  std::function<Tensor(const Args&)> inplace;
  /// Optional, for functional ops: writes the output straight into `out` and returns true, or returns false
  /// (another dtype, shape or device, an input partly overlapping out) so the caller computes and copies.
  /// The in-place form (`add_`) uses it when nothing records, which saves a temporary and a copy.
  std::function<bool(const Args&, const Tensor& out)> forward_into;
  /// For an in-place op: the functional op's forward_into, with self as out.
  std::function<bool(const Args&)> inplace_direct;
  /// Forward-mode AD: how tangents pass through the op, and its formula for kFormula.
  ForwardAd forward_ad = ForwardAd::kFromBackward;
  JvpFn jvp;
  /// For kLinear: the signature positions of the arguments the op is linear in (others, such as indices
  /// and masks, are passed through).
  std::vector<int> linear_args;
};

/// Fluent builder returned by Registry::def.
class OpBuilder {
 public:
  explicit OpBuilder(OpDef* def) : def_(def) {}
  OpBuilder& forward(ForwardFn fn);
  OpBuilder& backward(BackwardFn fn);
  /// Marks the op as written in other ops (no backward of its own).
  OpBuilder& composite();
  /// Marks the op as not differentiable.
  OpBuilder& no_grad();
  /// The backward needs only these tensor inputs (positions among the tensor args).
  OpBuilder& saves_inputs(std::vector<int> positions);
  /// The backward needs the forward outputs.
  OpBuilder& saves_outputs();
  /// The backward takes undefined gradients for outputs none flowed to (OpDef::undefined_grads).
  OpBuilder& keeps_undefined_grads();
  OpBuilder& doc(std::string text);
  /// Declares the backward correct for complex inputs and outputs (see OpDef::complex_autograd).
  OpBuilder& complex_autograd();
  /// Makes the op in-place: `value` computes self's new contents (see OpDef::inplace).
  OpBuilder& inplace(std::function<Tensor(const Args&)> value);
  /// Lets the op write its output into a given tensor (see OpDef::forward_into).
  OpBuilder& forward_into(std::function<bool(const Args&, const Tensor& out)> fn);
  /// The in-place op's direct path (see OpDef::inplace_direct).
  OpBuilder& inplace_direct(std::function<bool(const Args&)> fn);

 private:
  OpDef* def_;
};

/// All ops, by name.
class Registry {
 public:
  /// The process-wide registry, with every op family registered on first use.
  static Registry& get();
  /// Declares an op from its signature.
  OpBuilder def(std::string_view signature);
  /// Finds an op; throws NOT_FOUND "unknown op 'x'" if absent.
  const OpDef& find(std::string_view name) const;
  const OpDef* find_if(std::string_view name) const;
  /// Every op, sorted by name.
  std::vector<const OpDef*> list() const;
  /// Binds positional values to a schema: checks count and kinds, converts, fills defaults.
  static Args bind(const OpDef& def, std::vector<Value> values);

 private:
  Registry() = default;
  std::unordered_map<std::string, std::unique_ptr<OpDef>> ops_;
};

/// What one recorded call saved for its backward.
struct SavedCall {
  Args args;                                    // tensors not saved are None here
  std::vector<size_t> tensor_slots;             // arg position of tensor input k
  std::vector<uint32_t> versions;               // version of tensor input k when saved
  std::vector<autograd::TensorMeta> input_meta;  // shape/dtype/device of tensor input k
  std::vector<std::string> output_names;        // grad_fn name of each input, for the version error
  bool released = false;
  std::vector<int> list_index;                  // tensor input k's position in its Tensor[] argument, or -1
};

/// Inputs and output gradients a backward formula reads.
class GradContext {
 public:
  GradContext(const OpDef& def, const SavedCall& saved, const std::vector<Tensor>& grads,
              const std::vector<Tensor>& outputs, const std::vector<bool>& needs_grad)
      : def_(def), saved_(saved), grads_(grads), outputs_(outputs), needs_grad_(needs_grad) {}
  /// Gradient of output i (zeros if none flowed to it; undefined instead for ops that keep undefined grads).
  const Tensor& grad(size_t i = 0) const { return grads_[i]; }
  /// Tensor input i (position among tensor args), checked against in-place modification since the forward.
  Tensor input(size_t i) const;
  /// How many tensor inputs the op had (each element of a `Tensor[]` counts).
  size_t input_count() const { return saved_.input_meta.size(); }
  /// Shape, dtype and device of tensor input i.
  const autograd::TensorMeta& input_meta(size_t i) const { return saved_.input_meta[i]; }
  /// Forward output i (only for ops marked saves_outputs).
  Tensor output(size_t i = 0) const;
  /// All bound arguments, by signature position (saved tensors only).
  const Args& args() const { return saved_.args; }
  /// Whether tensor input i needs a gradient at all.
  bool needs_grad(size_t i) const { return i < needs_grad_.size() && needs_grad_[i]; }

 private:
  const OpDef& def_;
  const SavedCall& saved_;
  const std::vector<Tensor>& grads_;
  const std::vector<Tensor>& outputs_;
  const std::vector<bool>& needs_grad_;
};

// Each op family registers itself here (explicit calls, so a static library keeps every family).
void register_creation_ops(Registry& r);
void register_binary_ops(Registry& r);
void register_reduce_ops(Registry& r);
void register_shape_ops(Registry& r);
void register_blas_ops(Registry& r);
void register_unary_ops(Registry& r);
void register_complex_ops(Registry& r);
void register_compare_ops(Registry& r);
void register_random_ops(Registry& r);
void register_index_ops(Registry& r);
void register_join_ops(Registry& r);
void register_sort_ops(Registry& r);
void register_pad_ops(Registry& r);
void register_conv_ops(Registry& r);
void register_advanced_index_ops(Registry& r);
void register_composite_ops(Registry& r);
void register_activation_ops(Registry& r);
void register_pool_ops(Registry& r);
void register_loss_ops(Registry& r);
void register_norm_ops(Registry& r);
void register_rnn_ops(Registry& r);
void register_rnn_layer_ops(Registry& r);
void register_embedding_ops(Registry& r);
void register_upsample_ops(Registry& r);
void register_fft_ops(Registry& r);
void register_linalg_ops(Registry& r);
/// Last: the in-place forms of ops registered before.
void register_inplace_ops(Registry& r);
/// After every op: the forward-mode AD rules (linear ops and explicit formulas; core/ops/forward_ad.cpp).
void register_forward_ad(Registry& r);

/// Forward-mode AD in the op path (core/ops/forward_ad.cpp). Whether a tensor argument has a tangent at
/// this thread's open dual level.
bool any_tangent(const Args& args);
/// Sets the tangents of a primitive op's floating outputs from its inputs' tangents.
void propagate_tangents(const OpDef& def, const Args& args, const std::vector<Tensor>& outputs);
/// After `value` was written into dst's memory (an in-place op, an out= result): dst's tangent (shared with
/// its view base) takes value's, or zeros when value has none but dst had one.
void write_tangent(const Tensor& dst, const Tensor& value);

/// Whether any tensor argument (a `Tensor[]`'s elements included) requires grad.
bool any_requires_grad(const Args& args);

/// Runs an in-place op (core/ops/inplace.cpp).
Tensor apply_inplace(const OpDef& def, Args args);
/// Moves self's history onto `value`'s after self's memory took value's contents: self becomes an output
/// of value's node; for a view, its base's history becomes the base with the view's region from value
/// (PyTorch's CopySlices). Used by in-place ops and custom functions' mark_dirty.
void rebase_history(std::string_view op, const Tensor& self, const Tensor& value);
/// Runs `name` with its trailing output tensor argument(s) written in place: the `name.out` form.
std::vector<Tensor> apply_out(std::string_view name, std::vector<Value> values);

}  // namespace td
