// The registry, signature parsing, argument binding, and the one path every op call takes (call_op), which
// records the autograd node for primitive ops.
#include "core/ops/registry.h"

#include <algorithm>
#include <cctype>
#include <mutex>

#include "core/autograd/anomaly_mode.h"
#include "core/autograd/forward_ad.h"
#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/profiler/hooks.h"
#include "core/tensor_impl.h"

namespace td {

// ---- signature parsing ----

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_top(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '[' || s[i] == '(') ++depth;
    if (s[i] == ']' || s[i] == ')') --depth;
    if (s[i] == sep && depth == 0) {
      parts.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  if (auto last = trim(s.substr(start)); !last.empty()) parts.push_back(last);
  return parts;
}

[[noreturn]] void bad_schema(std::string_view text, std::string_view why) {
  throw Error(ErrorCode::kInternal, str("malformed op signature '", text, "': ", why));
}

Value parse_default(std::string_view text, const ArgSpec& spec, std::string_view schema) {
  if (text == "None") return None{};
  if (text == "True") return Scalar(true);
  if (text == "False") return Scalar(false);
  if (spec.type == ArgType::kIntList) {
    std::vector<int64_t> v;
    if (text.front() == '[') {
      for (auto item : split_top(text.substr(1, text.size() - 2), ',')) v.push_back(std::stoll(std::string(item)));
    } else {
      v.assign(std::max(spec.list_size, 1), std::stoll(std::string(text)));
    }
    return v;
  }
  if (spec.type == ArgType::kString || spec.type == ArgType::kDevice) {
    if (text.size() < 2 || text.front() != '"') bad_schema(schema, "string default must be quoted");
    return std::string(text.substr(1, text.size() - 2));
  }
  if (spec.type == ArgType::kScalarType) return dtype_from_name(text);
  std::string t(text);
  if (t.find_first_of(".eE") != std::string::npos && spec.type != ArgType::kInt) return Scalar(std::stod(t));
  return Scalar(static_cast<int64_t>(std::stoll(t)));
}
}  // namespace

Schema Schema::parse(std::string_view text) {
  Schema s;
  s.text = std::string(text);
  size_t open = text.find('('), close = std::string_view::npos;
  for (size_t i = open, depth = 0; open != std::string_view::npos && i < text.size(); ++i) {
    if (text[i] == '(' || text[i] == '[') ++depth;
    if ((text[i] == ')' || text[i] == ']') && --depth == 0) {
      close = i;
      break;
    }
  }
  size_t arrow = close == std::string_view::npos ? close : text.find("->", close);
  if (open == std::string_view::npos || close == std::string_view::npos || arrow == std::string_view::npos) {
    bad_schema(text, "expected name(args) -> returns");
  }
  s.name = std::string(trim(text.substr(0, open)));
  bool kw = false;
  for (auto part : split_top(text.substr(open + 1, close - open - 1), ',')) {
    if (part == "*") {
      kw = true;
      continue;
    }
    ArgSpec a;
    a.keyword_only = kw;
    std::string_view decl = part, def;
    if (auto eq = part.find('='); eq != std::string_view::npos) {
      decl = trim(part.substr(0, eq));
      def = trim(part.substr(eq + 1));
    }
    auto sp = decl.rfind(' ');
    if (sp == std::string_view::npos) bad_schema(text, "argument without a name");
    std::string_view type = trim(decl.substr(0, sp));
    a.name = std::string(trim(decl.substr(sp + 1)));
    a.type_str = std::string(type);
    if (type.ends_with('?')) {
      a.optional = true;
      type.remove_suffix(1);
    }
    if (type == "Tensor[]" || type == "Tensor?[]") {
      a.type = ArgType::kTensorList;
      a.optional_elements = type == "Tensor?[]";
    } else if (type.starts_with("int[")) {
      a.type = ArgType::kIntList;
      auto n = type.substr(4, type.size() - 5);
      a.list_size = n.empty() ? 0 : std::stoi(std::string(n));
    } else if (type == "Tensor") {
      a.type = ArgType::kTensor;
    } else if (type == "Scalar") {
      a.type = ArgType::kScalar;
    } else if (type == "int" || type == "SymInt") {
      a.type = ArgType::kInt;
    } else if (type == "bool") {
      a.type = ArgType::kBool;
    } else if (type == "float") {
      a.type = ArgType::kFloat;
    } else if (type == "ScalarType") {
      a.type = ArgType::kScalarType;
    } else if (type == "Device") {
      a.type = ArgType::kDevice;
    } else if (type == "str") {
      a.type = ArgType::kString;
    } else {
      bad_schema(text, str("unknown type '", type, "'"));
    }
    if (!def.empty()) a.default_value = parse_default(def, a, text);
    s.args.push_back(std::move(a));
  }
  auto ret = trim(text.substr(arrow + 2));
  if (ret.front() == '(') ret = ret.substr(1, ret.size() - 2);
  for (auto r : split_top(ret, ',')) s.returns.emplace_back(r);
  return s;
}

// ---- Args accessors ----

namespace {
[[noreturn]] void wrong_kind(const Schema& s, size_t i, std::string_view want) {
  throw Error(ErrorCode::kInternal, str("[", s.name, "] argument ", i, " read as ", want));
}
}  // namespace

const Tensor& Args::tensor(size_t i) const {
  if (auto* t = std::get_if<Tensor>(&values_[i])) return *t;
  wrong_kind(*schema_, i, "Tensor");
}
const std::vector<Tensor>& Args::tensors(size_t i) const {
  if (auto* v = std::get_if<std::vector<Tensor>>(&values_[i])) return *v;
  wrong_kind(*schema_, i, "Tensor[]");
}
Tensor Args::optional_tensor(size_t i) const { return is_none(i) ? Tensor() : tensor(i); }
Scalar Args::scalar(size_t i) const {
  if (auto* s = std::get_if<Scalar>(&values_[i])) return *s;
  wrong_kind(*schema_, i, "Scalar");
}
int64_t Args::int_at(size_t i) const { return scalar(i).to_int(); }
double Args::float_at(size_t i) const { return scalar(i).to_double(); }
bool Args::bool_at(size_t i) const { return scalar(i).to_int() != 0; }
const std::vector<int64_t>& Args::ints(size_t i) const {
  if (auto* v = std::get_if<std::vector<int64_t>>(&values_[i])) return *v;
  wrong_kind(*schema_, i, "int[]");
}
std::optional<std::vector<int64_t>> Args::optional_ints(size_t i) const {
  if (is_none(i)) return std::nullopt;
  return ints(i);
}
std::optional<DType> Args::optional_dtype(size_t i) const {
  if (is_none(i)) return std::nullopt;
  if (auto* t = std::get_if<DType>(&values_[i])) return *t;
  wrong_kind(*schema_, i, "ScalarType");
}
const std::string& Args::string_at(size_t i) const {
  if (auto* v = std::get_if<std::string>(&values_[i])) return *v;
  wrong_kind(*schema_, i, "str");
}

// ---- binding ----

namespace {
std::string_view value_kind(const Value& v) {
  switch (v.index()) {
    case 0: return "None";
    case 1: return "Tensor";
    case 2: {
      const Scalar& sc = std::get<Scalar>(v);
      return sc.is_bool() ? "bool" : sc.is_integral() ? "int" : sc.is_complex() ? "complex" : "float";
    }
    case 3: return "int[]";
    case 4: return "str";
    case 5: return "ScalarType";
    default: return "Tensor[]";
  }
}

// Checks one value against its spec, converting where PyTorch would (an int where int[2] is wanted).
void check_arg(const Schema& s, const ArgSpec& a, Value& v) {
  auto fail = [&](std::string_view why) {
    throw Error(ErrorCode::kInvalidArgument,
                str("[", s.name, "] argument '", a.name, "' must be ", a.type_str, ", not ", value_kind(v), why));
  };
  if (std::holds_alternative<None>(v)) {
    if (!a.optional) fail("");
    return;
  }
  switch (a.type) {
    case ArgType::kTensor:
      // A number where a tensor goes is a wrapped number, as in PyTorch's `x * 2`.
      if (auto* sc = std::get_if<Scalar>(&v)) v = wrapped_scalar(*sc);
      if (!std::holds_alternative<Tensor>(v)) fail("");
      if (!std::get<Tensor>(v).defined()) {
        if (!a.optional) fail(" (an undefined tensor)");
        v = None{};
      }
      break;
    case ArgType::kTensorList: {
      auto* list = std::get_if<std::vector<Tensor>>(&v);
      if (!list) fail("");
      for (size_t k = 0; k < list->size(); ++k) {
        if (!(*list)[k].defined() && !a.optional_elements) fail(str(" (an undefined tensor at position ", k, ")"));
      }
      break;
    }
    case ArgType::kScalar:
      if (!std::holds_alternative<Scalar>(v)) fail("");
      break;
    case ArgType::kFloat:
      if (!std::holds_alternative<Scalar>(v) || std::get<Scalar>(v).is_bool() || std::get<Scalar>(v).is_complex()) {
        fail("");
      }
      break;
    case ArgType::kInt:
      if (!std::holds_alternative<Scalar>(v) || !std::get<Scalar>(v).is_integral() || std::get<Scalar>(v).is_bool()) {
        fail("");
      }
      break;
    case ArgType::kBool:
      if (!std::holds_alternative<Scalar>(v) || !std::get<Scalar>(v).is_bool()) fail("");
      break;
    case ArgType::kIntList:
      if (auto* sc = std::get_if<Scalar>(&v); sc && sc->is_integral() && !sc->is_bool() && a.list_size > 0) {
        v = std::vector<int64_t>(a.list_size, sc->to_int());
      }
      if (!std::holds_alternative<std::vector<int64_t>>(v)) fail("");
      // `int[1]` is PyTorch's dim list (one int or any number of them); only `int[N]`, N > 1, fixes a length.
      if (a.list_size > 1 && std::get<std::vector<int64_t>>(v).size() != static_cast<size_t>(a.list_size)) {
        fail(str(" of ", std::get<std::vector<int64_t>>(v).size(), " elements"));
      }
      break;
    case ArgType::kScalarType:
      if (auto* name = std::get_if<std::string>(&v)) v = dtype_from_name(*name);
      if (!std::holds_alternative<DType>(v)) fail("");
      break;
    case ArgType::kDevice:
      if (!std::holds_alternative<std::string>(v)) fail("");
      Device::parse(std::get<std::string>(v));
      break;
    case ArgType::kString:
      if (!std::holds_alternative<std::string>(v)) fail("");
      break;
  }
}
}  // namespace

Args Registry::bind(const OpDef& def, std::vector<Value> values) {
  const Schema& s = def.schema;
  TD_CHECK_ARG(values.size() <= s.args.size(), "[", s.name, "] takes ", s.args.size(), " arguments but ",
               values.size(), " were given");
  for (size_t i = values.size(); i < s.args.size(); ++i) {
    TD_CHECK_ARG(s.args[i].default_value.has_value(), "[", s.name, "] missing required argument '", s.args[i].name,
                 "' (position ", i, ")");
    values.push_back(*s.args[i].default_value);
  }
  for (size_t i = 0; i < s.args.size(); ++i) check_arg(s, s.args[i], values[i]);
  return Args(&s, std::move(values));
}

// ---- registry ----

OpBuilder& OpBuilder::forward(ForwardFn fn) {
  def_->forward = std::move(fn);
  return *this;
}
OpBuilder& OpBuilder::backward(BackwardFn fn) {
  def_->backward = std::move(fn);
  return *this;
}
OpBuilder& OpBuilder::composite() {
  def_->autograd = AutogradKind::kComposite;
  return *this;
}
OpBuilder& OpBuilder::no_grad() {
  def_->autograd = AutogradKind::kNone;
  return *this;
}
OpBuilder& OpBuilder::saves_inputs(std::vector<int> positions) {
  def_->saves_all_inputs = false;
  def_->saved_inputs = std::move(positions);
  return *this;
}
OpBuilder& OpBuilder::saves_outputs() {
  def_->saves_outputs = true;
  return *this;
}
OpBuilder& OpBuilder::keeps_undefined_grads() {
  def_->undefined_grads = true;
  return *this;
}
OpBuilder& OpBuilder::doc(std::string text) {
  def_->doc = std::move(text);
  return *this;
}

OpBuilder& OpBuilder::complex_autograd() {
  def_->complex_autograd = true;
  return *this;
}

OpBuilder& OpBuilder::forward_into(std::function<bool(const Args&, const Tensor& out)> fn) {
  def_->forward_into = std::move(fn);
  return *this;
}

OpBuilder& OpBuilder::inplace_direct(std::function<bool(const Args&)> fn) {
  def_->inplace_direct = std::move(fn);
  return *this;
}

OpBuilder& OpBuilder::inplace(std::function<Tensor(const Args&)> value) {
  def_->inplace = std::move(value);
  def_->autograd = AutogradKind::kComposite;  // the value's ops record the graph; apply_inplace rebases
  return *this;
}

Registry& Registry::get() {
  static Registry* registry = [] {
    auto* r = new Registry();
    register_creation_ops(*r);
    register_binary_ops(*r);
    register_reduce_ops(*r);
    register_shape_ops(*r);
    register_blas_ops(*r);
    register_unary_ops(*r);
    register_complex_ops(*r);
    register_compare_ops(*r);
    register_random_ops(*r);
    register_join_ops(*r);
    register_index_ops(*r);
    register_sort_ops(*r);
    register_pad_ops(*r);
    register_conv_ops(*r);
    register_advanced_index_ops(*r);
    register_composite_ops(*r);
    register_activation_ops(*r);
    register_pool_ops(*r);
    register_loss_ops(*r);
    register_norm_ops(*r);
    register_rnn_ops(*r);
    register_rnn_layer_ops(*r);
    register_embedding_ops(*r);
    register_upsample_ops(*r);
    register_fft_ops(*r);
    register_linalg_ops(*r);
    register_inplace_ops(*r);
    register_forward_ad(*r);
    return r;
  }();
  return *registry;
}

OpBuilder Registry::def(std::string_view signature) {
  auto def = std::make_unique<OpDef>();
  def->schema = Schema::parse(signature);
  OpDef* raw = def.get();
  auto [it, inserted] = ops_.emplace(raw->schema.name, std::move(def));
  TD_CHECK(inserted, ErrorCode::kInternal, "op '", raw->schema.name, "' registered twice");
  return OpBuilder(raw);
}

const OpDef* Registry::find_if(std::string_view name) const {
  auto it = ops_.find(std::string(name));
  return it == ops_.end() ? nullptr : it->second.get();
}

const OpDef& Registry::find(std::string_view name) const {
  const OpDef* def = find_if(name);
  TD_CHECK(def, ErrorCode::kNotFound, "unknown op '", name, "'");
  return *def;
}

std::vector<const OpDef*> Registry::list() const {
  std::vector<const OpDef*> out;
  for (const auto& [name, def] : ops_) out.push_back(def.get());
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->schema.name < b->schema.name; });
  return out;
}

// ---- the autograd node every primitive op records ----

namespace {
// "add" -> "AddBackward0", "max_pool2d" -> "MaxPool2DBackward0", as PyTorch names grad_fns.
std::string backward_name(std::string_view op) {
  op = op.substr(0, op.find('.'));  // an overload ("max.dim") names its grad_fn after the op
  std::string out;
  bool up = true;
  for (char c : op) {
    if (c == '_') {
      up = true;
      continue;
    }
    out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    up = std::isdigit(static_cast<unsigned char>(c));
  }
  return out + "Backward0";
}

class OpNode : public autograd::Node {
 public:
  OpNode(const OpDef& def, SavedCall saved) : def_(def), saved_(std::move(saved)) {}

  std::string name() const override { return backward_name(def_.schema.name); }

  // A released node still runs: only a backward formula that reads a freed saved tensor fails (as in PyTorch,
  // where a graph that saves nothing can be walked again).
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    for (size_t i = 0; i < grads.size() && !def_.undefined_grads; ++i) {
      if (!grads[i].defined()) {
        const auto& m = output_meta[i];
        grads[i] = zeros(m.sizes, {m.dtype, m.device});
      }
    }
    std::vector<Tensor> outputs;
    for (size_t i = 0; i < outputs_.size(); ++i) outputs.push_back(unpack_output(i));
    std::vector<bool> needs;
    for (const auto& e : next_edges) needs.push_back(autograd::task_should_compute_output(e));
    GradContext ctx(def_, saved_, grads, outputs, needs);
    std::vector<Tensor> result = def_.backward(ctx);
    result.resize(saved_.input_meta.size());
    for (size_t i = 0; i < result.size(); ++i) {
      if (!needs[i]) {
        result[i] = Tensor();
        continue;
      }
      const auto& m = saved_.input_meta[i];
      if (!result[i].defined()) continue;
      TD_CHECK(result[i].shape() == m.sizes, ErrorCode::kInternal, "[", def_.schema.name,
               "] backward returned a gradient of shape ", shape_str(result[i].shape()), " for input ", i,
               " of shape ", shape_str(m.sizes));
      if (result[i].dtype() != m.dtype) result[i] = result[i].to(m.dtype);
    }
    return result;
  }

  void release_variables() override {
    for (size_t i = 0; i < saved_.args.size(); ++i) {
      const Value& v = saved_.args.value(i);
      if (std::holds_alternative<Tensor>(v) || std::holds_alternative<std::vector<Tensor>>(v)) {
        saved_.args.mutable_value(i) = None{};
      }
    }
    outputs_.clear();
    saved_.released = true;
  }

  std::vector<Tensor> outputs_;  // detached: an output holding its own grad_fn would be a cycle

 private:
  Tensor unpack_output(size_t i) {
    Tensor t = outputs_[i].detach();
    if (autograd::GradMode::is_enabled()) {
      // Double backward reads the output with its history: rebuild it pointing at this node.
      autograd::set_history(t, shared_from_this(), static_cast<uint32_t>(i));
    }
    return t;
  }

  const OpDef& def_;
  SavedCall saved_;
};

}  // namespace

bool any_requires_grad(const Args& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (auto* t = std::get_if<Tensor>(&args.value(i)); t && t->defined() && t->requires_grad()) return true;
    if (auto* list = std::get_if<std::vector<Tensor>>(&args.value(i))) {
      for (const Tensor& t : *list) {
        if (t.defined() && t.requires_grad()) return true;  // a `Tensor?[]` may hold None
      }
    }
  }
  return false;
}

namespace {

// Builds the node for a primitive op's call and makes its floating outputs non-leaves pointing at it.
void record(const OpDef& def, Args args, const std::vector<Tensor>& outputs) {
  // Only backward formulas checked against PyTorch's convention for complex numbers may see complex
  // values (OpDef::complex_autograd); any other op refuses rather than give a wrong gradient.
  if (!def.complex_autograd) {
    auto refuse = [&](const Tensor& t) {
      TD_CHECK(!t.defined() || !is_complex(t.dtype()), ErrorCode::kUnimplemented, "[", def.schema.name,
               "] gradients through complex tensors are not implemented yet for this op; run it under no_grad "
               "or detach the inputs");
    };
    for (const Tensor& out : outputs) refuse(out);
    for (size_t i = 0; i < args.size(); ++i) {
      if (auto* t = std::get_if<Tensor>(&args.value(i))) refuse(*t);
      if (auto* list = std::get_if<std::vector<Tensor>>(&args.value(i))) {
        for (const Tensor& t : *list) refuse(t);
      }
    }
  }
  SavedCall saved{std::move(args), {}, {}, {}, {}, false, {}};
  std::string forward_context;
  std::vector<autograd::Edge> edges;
  int k = 0;
  // Tensor input k is a Tensor argument or one element of a Tensor[] argument (list_index >= 0).
  auto add_input = [&](const Tensor& t, size_t slot, int list_index) {
    edges.push_back(autograd::gradient_edge(t));
    saved.tensor_slots.push_back(slot);
    saved.list_index.push_back(list_index);
    saved.versions.push_back(t.version());
    saved.input_meta.push_back(autograd::TensorMeta::of(t));
    saved.output_names.push_back(t.is_leaf() ? "" : t.grad_fn_name());
    bool keep = def.saves_all_inputs ||
                std::find(def.saved_inputs.begin(), def.saved_inputs.end(), k) != def.saved_inputs.end();
    ++k;
    // An inference tensor has no version counter to check a saved copy against (PyTorch's rule).
    TD_CHECK(!keep || !t.is_inference(), ErrorCode::kFailedPrecondition, "[", def.schema.name,
             "] Inference tensors cannot be saved for backward. To work around you can make a clone to get a "
             "normal tensor and use it in autograd.");
    return keep;
  };
  for (size_t i = 0; i < saved.args.size(); ++i) {
    Value& v = saved.args.mutable_value(i);
    if (auto* t = std::get_if<Tensor>(&v)) {
      if (!add_input(*t, i, -1)) v = None{};
    } else if (auto* list = std::get_if<std::vector<Tensor>>(&v)) {
      for (size_t j = 0; j < list->size(); ++j) {
        if (!add_input((*list)[j], i, static_cast<int>(j))) (*list)[j] = Tensor();
      }
    }
  }
  if (autograd::AnomalyMode::is_enabled()) {
    forward_context = autograd::describe_forward(def.schema.name, saved.input_meta);
  }
  auto node = std::make_shared<OpNode>(def, std::move(saved));
  node->next_edges = std::move(edges);
  node->forward_context = std::move(forward_context);
  for (size_t j = 0; j < outputs.size(); ++j) {
    node->output_meta.push_back(autograd::TensorMeta::of(outputs[j]));
    if (def.saves_outputs) node->outputs_.push_back(outputs[j].detach());
    if (is_floating(outputs[j].dtype()) || is_complex(outputs[j].dtype())) {
      autograd::set_history(outputs[j], node, static_cast<uint32_t>(j));
    }
  }
}
}  // namespace

Tensor GradContext::input(size_t i) const {
  TD_CHECK(!saved_.released, ErrorCode::kFailedPrecondition, autograd::kFreedGraphMessage);
  const Value& v = saved_.args.value(saved_.tensor_slots.at(i));
  const Tensor* t = std::get_if<Tensor>(&v);
  if (auto* list = std::get_if<std::vector<Tensor>>(&v)) t = &(*list)[saved_.list_index.at(i)];
  TD_CHECK(t && t->defined(), ErrorCode::kInternal, "[", def_.schema.name, "] backward reads tensor input ",
           i, " but the op does not save it");
  if (t->version() != saved_.versions[i]) {
    throw autograd::saved_tensor_modified_error(def_.schema.name, saved_.input_meta[i], saved_.output_names[i], 0,
                                                t->version(), saved_.versions[i]);
  }
  return *t;
}

Tensor GradContext::output(size_t i) const {
  TD_CHECK(!saved_.released, ErrorCode::kFailedPrecondition, autograd::kFreedGraphMessage);
  TD_CHECK(i < outputs_.size(), ErrorCode::kInternal, "[", def_.schema.name,
           "] backward reads output ", i, " but the op does not save its outputs");
  return outputs_[i];
}

// ---- the one entry point ----

namespace {
std::vector<Tensor> run_bound(const OpDef& def, std::string_view name, Args args) {
  if (def.inplace) return {apply_inplace(def, std::move(args))};
  if (def.autograd == AutogradKind::kComposite) return def.forward(args);
  bool needs_grad = def.autograd == AutogradKind::kPrimitive && autograd::GradMode::is_enabled() &&
                    any_requires_grad(args);
  // Forward-mode AD: off the common path (one relaxed load) unless a dual level is open.
  std::optional<Args> dual_args;
  if (autograd::forward_ad::detail::propagating() && def.autograd == AutogradKind::kPrimitive && any_tangent(args))
      [[unlikely]] {
    dual_args = args;
  }
  std::vector<Tensor> outputs;
  {
    autograd::NoGradGuard no_grad;
    // The forward's own ops (a contiguous copy, a view) are internal: their tangents would be thrown away.
    std::optional<autograd::forward_ad::detail::Suspend> internal;
    if (dual_args) internal.emplace();
    outputs = def.forward(args);
  }
  if (needs_grad) {
    TD_CHECK(def.backward, ErrorCode::kInternal, "[", name, "] is a primitive op without a backward formula");
    record(def, std::move(args), outputs);
  }
  // After record: a tangent computed from the outputs sees their history (reverse-over-forward).
  if (dual_args) propagate_tangents(def, *dual_args, outputs);
  return outputs;
}

// Kept out of line so call_op's common path stays small.
[[gnu::noinline]] std::vector<Tensor> run_profiled(const OpDef& def, std::string_view name, Args args) {
  profiler::detail::OpScope scope(def, args);
  std::vector<Tensor> outputs = run_bound(def, name, std::move(args));
  scope.set_outputs(outputs);
  return outputs;
}
}  // namespace

std::vector<Tensor> call_op(std::string_view name, std::vector<Value> values) {
  constexpr std::string_view kOut = ".out";
  if (name.ends_with(kOut) && !Registry::get().find_if(name)) {
    return apply_out(name.substr(0, name.size() - kOut.size()), std::move(values));
  }
  const OpDef& def = Registry::get().find(name);
  Args args = Registry::bind(def, std::move(values));
  // The profiler's only cost when off: one relaxed load and a branch predicted not taken.
  if (profiler::detail::recording()) [[unlikely]] return run_profiled(def, name, std::move(args));
  return run_bound(def, name, std::move(args));
}

}  // namespace td
