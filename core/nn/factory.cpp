// The module table: each entry is a Python-style signature (the parameter names and defaults, shown by
// module_signatures and used to bind arguments) and a builder that reads the bound arguments by name.
#include "core/nn/factory.h"

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>

#include "core/error.h"
#include "core/nn/activation.h"
#include "core/nn/attention.h"
#include "core/nn/conv.h"
#include "core/nn/loss.h"
#include "core/nn/modules.h"
#include "core/nn/normalization.h"
#include "core/nn/pooling.h"
#include "core/nn/rnn.h"
#include "core/nn/sparse.h"
#include "core/nn/upsampling.h"

namespace td::nn {

// ---- ModuleArgs ----

ModuleArgs::ModuleArgs(std::string module, std::map<std::string, Value> values)
    : module_(std::move(module)), values_(std::move(values)) {}

bool ModuleArgs::given(const std::string& name) const {
  auto it = values_.find(name);
  return it != values_.end() && !std::holds_alternative<None>(it->second);
}
int64_t ModuleArgs::integer(const std::string& name) const {
  const Value& v = at(name);
  const auto* s = std::get_if<Scalar>(&v);
  if (!s || !s->is_integral() || s->is_bool()) wrong(name, "int", v);
  return s->to_int();
}
double ModuleArgs::number(const std::string& name) const {
  const Value& v = at(name);
  const auto* s = std::get_if<Scalar>(&v);
  if (!s || s->is_bool() || s->is_complex()) wrong(name, "float", v);
  return s->to_double();
}
bool ModuleArgs::flag(const std::string& name) const {
  const Value& v = at(name);
  const auto* s = std::get_if<Scalar>(&v);
  if (!s || !s->is_bool()) wrong(name, "bool", v);
  return s->to_int() != 0;
}
std::string ModuleArgs::text(const std::string& name) const {
  const Value& v = at(name);
  const auto* s = std::get_if<std::string>(&v);
  if (!s) wrong(name, "str", v);
  return *s;
}
functional::IntArg ModuleArgs::ints(const std::string& name) const {
  const Value& v = at(name);
  if (std::holds_alternative<None>(v)) return {};
  if (const auto* s = std::get_if<Scalar>(&v); s && s->is_integral() && !s->is_bool()) return s->to_int();
  if (const auto* l = std::get_if<std::vector<int64_t>>(&v)) return *l;
  wrong(name, "int or tuple of ints", v);
}
std::optional<std::vector<double>> ModuleArgs::floats(const std::string& name) const {
  const Value& v = at(name);
  if (std::holds_alternative<None>(v)) return std::nullopt;
  if (const auto* s = std::get_if<Scalar>(&v); s && !s->is_bool()) return std::vector<double>{s->to_double()};
  wrong(name, "float", v);
}
functional::Padding ModuleArgs::padding(const std::string& name) const {
  const Value& v = at(name);
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return ints(name).values;
}
Tensor ModuleArgs::tensor(const std::string& name) const {
  const Value& v = at(name);
  if (std::holds_alternative<None>(v)) return {};
  if (const auto* t = std::get_if<Tensor>(&v)) return *t;
  wrong(name, "Tensor", v);
}
std::optional<double> ModuleArgs::optional_number(const std::string& name) const {
  if (!given(name)) return std::nullopt;
  return number(name);
}
std::optional<bool> ModuleArgs::optional_flag(const std::string& name) const {
  if (!given(name)) return std::nullopt;
  return flag(name);
}
std::optional<int64_t> ModuleArgs::optional_integer(const std::string& name) const {
  if (!given(name)) return std::nullopt;
  return integer(name);
}
void ModuleArgs::wrong(const std::string& name, const char* want, const Value& v) const {
  static const char* kinds[] = {"None", "Tensor", "number",         "list of ints",
                                "str",  "dtype",  "list of tensors"};
  throw Error(ErrorCode::kInvalidArgument,
              str("[", module_, "] argument '", name, "' must be ", want, ", not ", kinds[v.index()]));
}

namespace {

using Bound = ModuleArgs;

// One parameter of a signature: its name and, if it has one, its default.
struct Param {
  std::string name;
  std::optional<Value> default_value;
};

// A Python default as written in a signature: None, True/False, 'text', an int, a float, (a, b).
Value parse_default(const std::string& text) {
  if (text == "None") return None{};
  if (text == "True" || text == "False") return Scalar(text == "True");
  if (text.front() == '\'') return text.substr(1, text.size() - 2);
  if (text.front() == '(') {
    std::vector<int64_t> v;
    size_t pos = 1;
    while (pos < text.size() - 1) {
      size_t next = text.find(',', pos);
      if (next == std::string::npos) next = text.size() - 1;
      v.push_back(std::stoll(text.substr(pos, next - pos)));
      pos = next + 1;
    }
    return v;
  }
  if (text.find_first_of(".e") != std::string::npos) return Scalar(std::stod(text));
  return Scalar(static_cast<int64_t>(std::stoll(text)));
}

struct ModuleDef {
  std::string signature;
  std::vector<Param> params;
  ModuleBuilder make;
};

std::vector<Param> parse_params(const std::string& signature) {
  std::vector<Param> params;
  const size_t open = signature.find('('), close = signature.rfind(')');
  std::string body = signature.substr(open + 1, close - open - 1);
  size_t pos = 0;
  while (pos < body.size()) {
    // Split at commas outside parentheses.
    size_t end = pos;
    int depth = 0;
    while (end < body.size() && (body[end] != ',' || depth > 0)) {
      depth += body[end] == '(' ? 1 : body[end] == ')' ? -1 : 0;
      ++end;
    }
    std::string part = body.substr(pos, end - pos);
    while (!part.empty() && part.front() == ' ') part.erase(part.begin());
    const size_t eq = part.find('=');
    if (!part.empty()) {
      params.push_back(eq == std::string::npos ? Param{part, std::nullopt}
                                               : Param{part.substr(0, eq), parse_default(part.substr(eq + 1))});
    }
    pos = end + 1;
  }
  return params;
}

std::pair<std::string, ModuleDef> make_def(std::string signature, ModuleBuilder make) {
  std::string name = signature.substr(0, signature.find('('));
  auto params = parse_params(signature);
  return {std::move(name), ModuleDef{std::move(signature), std::move(params), std::move(make)}};
}

template <class M>
std::shared_ptr<Module> as_module(std::shared_ptr<M> m) {
  return m;
}

using Table = std::map<std::string, ModuleDef, std::less<>>;

// The built-in modules; register_module_type adds to it under table_mutex().
Table& table() {
  static auto* defs = [] {
    auto* t = new std::map<std::string, ModuleDef, std::less<>>();
    auto def = [&](std::string signature, ModuleBuilder make) {
      t->emplace(make_def(std::move(signature), std::move(make)));
    };
    using B = const Bound&;
    // Basic layers.
    def("Identity()", [](B) { return std::make_shared<Identity>(); });
    def("Linear(in_features, out_features, bias=True)",
        [](B a) { return std::make_shared<Linear>(a.integer("in_features"), a.integer("out_features"), a.flag("bias")); });
    def("Flatten(start_dim=1, end_dim=-1)",
        [](B a) { return std::make_shared<Flatten>(a.integer("start_dim"), a.integer("end_dim")); });
    def("Unflatten(dim, unflattened_size)",
        [](B a) { return std::make_shared<Unflatten>(a.integer("dim"), a.ints("unflattened_size").values); });
    // Activations.
    def("ReLU(inplace=False)", [](B) { return std::make_shared<ReLU>(); });
    def("Sigmoid()", [](B) { return std::make_shared<Sigmoid>(); });
    def("Tanh()", [](B) { return std::make_shared<Tanh>(); });
    def("Softmax(dim=None)", [](B a) { return std::make_shared<Softmax>(a.given("dim") ? a.integer("dim") : -1); });
    def("LogSoftmax(dim=None)",
        [](B a) { return std::make_shared<LogSoftmax>(a.given("dim") ? a.integer("dim") : -1); });
    def("Softmin(dim=None)", [](B a) { return Softmin(a.given("dim") ? a.integer("dim") : -1); });
    def("LeakyReLU(negative_slope=0.01, inplace=False)", [](B a) { return LeakyReLU(a.number("negative_slope")); });
    def("ELU(alpha=1.0, inplace=False)", [](B a) { return ELU(a.number("alpha")); });
    def("SELU(inplace=False)", [](B) { return SELU(); });
    def("CELU(alpha=1.0, inplace=False)", [](B a) { return CELU(a.number("alpha")); });
    def("GELU(approximate='none')", [](B a) { return GELU(a.text("approximate")); });
    def("SiLU(inplace=False)", [](B) { return SiLU(); });
    def("Mish(inplace=False)", [](B) { return Mish(); });
    def("Hardtanh(min_val=-1.0, max_val=1.0, inplace=False)",
        [](B a) { return Hardtanh(a.number("min_val"), a.number("max_val")); });
    def("ReLU6(inplace=False)", [](B) { return ReLU6(); });
    def("Hardswish(inplace=False)", [](B) { return Hardswish(); });
    def("Hardsigmoid(inplace=False)", [](B) { return Hardsigmoid(); });
    def("Softplus(beta=1.0, threshold=20.0)", [](B a) { return Softplus(a.number("beta"), a.number("threshold")); });
    def("Softsign()", [](B) { return Softsign(); });
    def("Threshold(threshold, value, inplace=False)",
        [](B a) { return Threshold(a.number("threshold"), a.number("value")); });
    def("GLU(dim=-1)", [](B a) { return GLU(a.integer("dim")); });
    def("LogSigmoid()", [](B) { return LogSigmoid(); });
    def("Tanhshrink()", [](B) { return Tanhshrink(); });
    def("Softshrink(lambd=0.5)", [](B a) { return Softshrink(a.number("lambd")); });
    def("Hardshrink(lambd=0.5)", [](B a) { return Hardshrink(a.number("lambd")); });
    def("PReLU(num_parameters=1, init=0.25)",
        [](B a) { return std::make_shared<PReLU>(a.integer("num_parameters"), a.number("init")); });
    def("RReLU(lower=0.125, upper=0.3333333333333333, inplace=False)",
        [](B a) { return std::make_shared<RReLU>(a.number("lower"), a.number("upper")); });
    def("Dropout(p=0.5, inplace=False)", [](B a) { return std::make_shared<Dropout>(a.number("p")); });
    def("Dropout1d(p=0.5, inplace=False)", [](B a) { return Dropout1d(a.number("p")); });
    def("Dropout2d(p=0.5, inplace=False)", [](B a) { return Dropout2d(a.number("p")); });
    def("Dropout3d(p=0.5, inplace=False)", [](B a) { return Dropout3d(a.number("p")); });
    def("AlphaDropout(p=0.5, inplace=False)", [](B a) { return AlphaDropout(a.number("p")); });
    def("FeatureAlphaDropout(p=0.5, inplace=False)", [](B a) { return FeatureAlphaDropout(a.number("p")); });
    // Convolutions.
    auto conv_options = [](B a, bool transposed) {
      ConvOptions o;
      o.stride = a.ints("stride");
      o.padding = a.padding("padding");
      o.dilation = a.ints("dilation");
      o.groups = a.integer("groups");
      o.bias = a.flag("bias");
      o.padding_mode = a.text("padding_mode");
      if (transposed) o.output_padding = a.ints("output_padding");
      return o;
    };
    const std::string conv_args =
        "(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True, "
        "padding_mode='zeros')";
    const std::string deconv_args =
        "(in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True, "
        "dilation=1, padding_mode='zeros')";
    def("Conv1d" + conv_args, [=](B a) {
      return as_module(std::make_shared<Conv1d>(a.integer("in_channels"), a.integer("out_channels"),
                                                a.ints("kernel_size"), conv_options(a, false)));
    });
    def("Conv2d" + conv_args, [=](B a) {
      return as_module(std::make_shared<Conv2d>(a.integer("in_channels"), a.integer("out_channels"),
                                                a.ints("kernel_size"), conv_options(a, false)));
    });
    def("Conv3d" + conv_args, [=](B a) {
      return as_module(std::make_shared<Conv3d>(a.integer("in_channels"), a.integer("out_channels"),
                                                a.ints("kernel_size"), conv_options(a, false)));
    });
    def("ConvTranspose1d" + deconv_args, [=](B a) {
      return as_module(std::make_shared<ConvTranspose1d>(a.integer("in_channels"), a.integer("out_channels"),
                                                         a.ints("kernel_size"), conv_options(a, true)));
    });
    def("ConvTranspose2d" + deconv_args, [=](B a) {
      return as_module(std::make_shared<ConvTranspose2d>(a.integer("in_channels"), a.integer("out_channels"),
                                                         a.ints("kernel_size"), conv_options(a, true)));
    });
    def("ConvTranspose3d" + deconv_args, [=](B a) {
      return as_module(std::make_shared<ConvTranspose3d>(a.integer("in_channels"), a.integer("out_channels"),
                                                         a.ints("kernel_size"), conv_options(a, true)));
    });
    // Pooling.
    for (size_t d = 1; d <= 3; ++d) {
      const std::string n = std::to_string(d);
      def("MaxPool" + n + "d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False)",
          [d](B a) {
            return as_module(std::make_shared<MaxPoolNd>(d, a.ints("kernel_size"), a.ints("stride"), a.ints("padding"),
                                                         a.ints("dilation"), a.flag("return_indices"),
                                                         a.flag("ceil_mode")));
          });
      const std::string divisor = d == 1 ? "" : ", divisor_override=None";
      def("AvgPool" + n + "d(kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True" + divisor +
              ")",
          [d](B a) {
            return as_module(std::make_shared<AvgPoolNd>(d, a.ints("kernel_size"), a.ints("stride"), a.ints("padding"),
                                                         a.flag("ceil_mode"), a.flag("count_include_pad"),
                                                         d == 1 ? std::nullopt : a.optional_integer("divisor_override")));
          });
    }
    for (size_t d = 1; d <= 3; ++d) {
      const std::string n = std::to_string(d);
      def("AdaptiveMaxPool" + n + "d(output_size, return_indices=False)", [d](B a) {
        return as_module(std::make_shared<AdaptivePoolNd>(d, true, a.ints("output_size"), a.flag("return_indices")));
      });
      def("AdaptiveAvgPool" + n + "d(output_size)",
          [d](B a) { return as_module(std::make_shared<AdaptivePoolNd>(d, false, a.ints("output_size"))); });
      def("MaxUnpool" + n + "d(kernel_size, stride=None, padding=0)", [d](B a) {
        return as_module(std::make_shared<MaxUnpoolNd>(d, a.ints("kernel_size"), a.ints("stride"), a.ints("padding")));
      });
    }
    for (size_t d = 1; d <= 2; ++d) {
      const std::string n = std::to_string(d);
      def("LPPool" + n + "d(norm_type, kernel_size, stride=None, ceil_mode=False)", [d](B a) {
        return as_module(std::make_shared<LPPoolNd>(d, a.number("norm_type"), a.ints("kernel_size"), a.ints("stride"),
                                                    a.flag("ceil_mode")));
      });
    }
    for (size_t d = 2; d <= 3; ++d) {
      def("FractionalMaxPool" + std::to_string(d) + "d(kernel_size, output_size=None, output_ratio=None, "
          "return_indices=False)", [d](B a) {
        return as_module(std::make_shared<FractionalMaxPoolNd>(d, a.ints("kernel_size"), a.ints("output_size"),
                                                               a.floats("output_ratio"), a.flag("return_indices")));
      });
    }
    // Normalization, embeddings, Bilinear, Upsample.
    def("BatchNorm1d(num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)", [](B a) {
      return as_module(std::make_shared<BatchNorm1d>(a.integer("num_features"), a.number("eps"),
                                                     a.optional_number("momentum"), a.flag("affine"),
                                                     a.flag("track_running_stats")));
    });
    def("BatchNorm2d(num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)", [](B a) {
      return as_module(std::make_shared<BatchNorm2d>(a.integer("num_features"), a.number("eps"),
                                                     a.optional_number("momentum"), a.flag("affine"),
                                                     a.flag("track_running_stats")));
    });
    def("BatchNorm3d(num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)", [](B a) {
      return as_module(std::make_shared<BatchNorm3d>(a.integer("num_features"), a.number("eps"),
                                                     a.optional_number("momentum"), a.flag("affine"),
                                                     a.flag("track_running_stats")));
    });
    def("InstanceNorm1d(num_features, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)", [](B a) {
      return as_module(std::make_shared<InstanceNorm1d>(a.integer("num_features"), a.number("eps"), a.number("momentum"),
                                                        a.flag("affine"), a.flag("track_running_stats")));
    });
    def("InstanceNorm2d(num_features, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)", [](B a) {
      return as_module(std::make_shared<InstanceNorm2d>(a.integer("num_features"), a.number("eps"), a.number("momentum"),
                                                        a.flag("affine"), a.flag("track_running_stats")));
    });
    def("InstanceNorm3d(num_features, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)", [](B a) {
      return as_module(std::make_shared<InstanceNorm3d>(a.integer("num_features"), a.number("eps"), a.number("momentum"),
                                                        a.flag("affine"), a.flag("track_running_stats")));
    });
    def("LayerNorm(normalized_shape, eps=1e-05, elementwise_affine=True)", [](B a) {
      return as_module(std::make_shared<LayerNorm>(a.ints("normalized_shape").values, a.number("eps"),
                                                   a.flag("elementwise_affine")));
    });
    def("GroupNorm(num_groups, num_channels, eps=1e-05, affine=True)", [](B a) {
      return as_module(std::make_shared<GroupNorm>(a.integer("num_groups"), a.integer("num_channels"), a.number("eps"),
                                                   a.flag("affine")));
    });
    def("LocalResponseNorm(size, alpha=0.0001, beta=0.75, k=1.0)", [](B a) {
      return as_module(std::make_shared<LocalResponseNorm>(a.integer("size"), a.number("alpha"), a.number("beta"),
                                                           a.number("k")));
    });
    def("Embedding(num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0, "
        "scale_grad_by_freq=False, sparse=False)",
        [](B a) {
          return as_module(std::make_shared<Embedding>(a.integer("num_embeddings"), a.integer("embedding_dim"),
                                                       a.optional_integer("padding_idx"), a.optional_number("max_norm"),
                                                       a.number("norm_type"), a.flag("scale_grad_by_freq"),
                                                       a.flag("sparse")));
        });
    def("EmbeddingBag(num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, "
        "mode='mean', sparse=False, include_last_offset=False, padding_idx=None)",
        [](B a) {
          return as_module(std::make_shared<EmbeddingBag>(
              a.integer("num_embeddings"), a.integer("embedding_dim"), a.optional_number("max_norm"),
              a.number("norm_type"), a.flag("scale_grad_by_freq"), a.text("mode"), a.flag("sparse"),
              a.flag("include_last_offset"), a.optional_integer("padding_idx")));
        });
    def("Bilinear(in1_features, in2_features, out_features, bias=True)", [](B a) {
      return as_module(std::make_shared<Bilinear>(a.integer("in1_features"), a.integer("in2_features"),
                                                  a.integer("out_features"), a.flag("bias")));
    });
    def("Upsample(size=None, scale_factor=None, mode='nearest', align_corners=None, recompute_scale_factor=None)",
        [](B a) {
          auto scale = a.floats("scale_factor");
          return as_module(std::make_shared<Upsample>(a.ints("size"),
                                                      scale ? functional::FloatArg(*scale) : functional::FloatArg(),
                                                      a.text("mode"), a.optional_flag("align_corners"),
                                                      a.optional_flag("recompute_scale_factor")));
        });
    // Recurrent and attention layers.
    auto rnn_options = [](B a) {
      RNNOptions o;
      o.num_layers = a.integer("num_layers");
      o.bias = a.flag("bias");
      o.batch_first = a.flag("batch_first");
      o.dropout = a.number("dropout");
      o.bidirectional = a.flag("bidirectional");
      return o;
    };
    def("RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True, batch_first=False, "
        "dropout=0.0, bidirectional=False)",
        [=](B a) {
          RNNOptions o = rnn_options(a);
          o.nonlinearity = a.text("nonlinearity");
          return as_module(std::make_shared<RNN>(a.integer("input_size"), a.integer("hidden_size"), o));
        });
    def("LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0, "
        "bidirectional=False, proj_size=0)",
        [=](B a) {
          RNNOptions o = rnn_options(a);
          o.proj_size = a.integer("proj_size");
          return as_module(std::make_shared<LSTM>(a.integer("input_size"), a.integer("hidden_size"), o));
        });
    def("GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False)",
        [=](B a) { return as_module(std::make_shared<GRU>(a.integer("input_size"), a.integer("hidden_size"), rnn_options(a))); });
    def("RNNCell(input_size, hidden_size, bias=True, nonlinearity='tanh')", [](B a) {
      return as_module(std::make_shared<RNNCell>(a.integer("input_size"), a.integer("hidden_size"), a.flag("bias"),
                                                 a.text("nonlinearity")));
    });
    def("LSTMCell(input_size, hidden_size, bias=True)", [](B a) {
      return as_module(std::make_shared<LSTMCell>(a.integer("input_size"), a.integer("hidden_size"), a.flag("bias")));
    });
    def("GRUCell(input_size, hidden_size, bias=True)", [](B a) {
      return as_module(std::make_shared<GRUCell>(a.integer("input_size"), a.integer("hidden_size"), a.flag("bias")));
    });
    def("MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False, "
        "kdim=None, vdim=None, batch_first=False)",
        [](B a) {
          MultiheadAttentionOptions o;
          o.dropout = a.number("dropout");
          o.bias = a.flag("bias");
          o.add_bias_kv = a.flag("add_bias_kv");
          o.add_zero_attn = a.flag("add_zero_attn");
          o.kdim = a.optional_integer("kdim").value_or(0);
          o.vdim = a.optional_integer("vdim").value_or(0);
          o.batch_first = a.flag("batch_first");
          return as_module(std::make_shared<MultiheadAttention>(a.integer("embed_dim"), a.integer("num_heads"), o));
        });
    // The layers' settings, shared by both layers and nn.Transformer, which take the same arguments.
    const auto layer_options = [](B a) {
      TransformerEncoderLayerOptions o;
      o.dim_feedforward = a.integer("dim_feedforward");
      o.dropout = a.number("dropout");
      o.activation = a.text("activation");
      o.layer_norm_eps = a.number("layer_norm_eps");
      o.batch_first = a.flag("batch_first");
      o.norm_first = a.flag("norm_first");
      return o;
    };
    def("TransformerEncoderLayer(d_model, nhead, dim_feedforward=2048, dropout=0.1, activation='relu', "
        "layer_norm_eps=1e-05, batch_first=False, norm_first=False)",
        [layer_options](B a) {
          return as_module(
              std::make_shared<TransformerEncoderLayer>(a.integer("d_model"), a.integer("nhead"), layer_options(a)));
        });
    def("TransformerDecoderLayer(d_model, nhead, dim_feedforward=2048, dropout=0.1, activation='relu', "
        "layer_norm_eps=1e-05, batch_first=False, norm_first=False)",
        [layer_options](B a) {
          return as_module(
              std::make_shared<TransformerDecoderLayer>(a.integer("d_model"), a.integer("nhead"), layer_options(a)));
        });
    def("Transformer(d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048, "
        "dropout=0.1, activation='relu', layer_norm_eps=1e-05, batch_first=False, norm_first=False)",
        [layer_options](B a) {
          const TransformerEncoderLayerOptions l = layer_options(a);
          TransformerOptions o{.d_model = a.integer("d_model"),
                               .nhead = a.integer("nhead"),
                               .num_encoder_layers = a.integer("num_encoder_layers"),
                               .num_decoder_layers = a.integer("num_decoder_layers"),
                               .dim_feedforward = l.dim_feedforward,
                               .dropout = l.dropout,
                               .activation = l.activation,
                               .layer_norm_eps = l.layer_norm_eps,
                               .batch_first = l.batch_first,
                               .norm_first = l.norm_first};
          TD_CHECK(o.num_encoder_layers <= kMaxStackedLayers && o.num_decoder_layers <= kMaxStackedLayers,
                   ErrorCode::kResourceExhausted, "[Transformer] at most ", kMaxStackedLayers, " layers per stack");
          return as_module(std::make_shared<Transformer>(o));
        });
    // Losses (without the deprecated size_average and reduce).
    def("MSELoss(reduction='mean')", [](B a) { return as_module(std::make_shared<MSELoss>(a.text("reduction"))); });
    def("L1Loss(reduction='mean')", [](B a) { return as_module(std::make_shared<L1Loss>(a.text("reduction"))); });
    def("SmoothL1Loss(reduction='mean', beta=1.0)",
        [](B a) { return as_module(std::make_shared<SmoothL1Loss>(a.text("reduction"), a.number("beta"))); });
    def("HuberLoss(reduction='mean', delta=1.0)",
        [](B a) { return as_module(std::make_shared<HuberLoss>(a.text("reduction"), a.number("delta"))); });
    def("NLLLoss(weight=None, ignore_index=-100, reduction='mean')", [](B a) {
      return as_module(std::make_shared<NLLLoss>(a.tensor("weight"), a.integer("ignore_index"), a.text("reduction")));
    });
    def("CrossEntropyLoss(weight=None, ignore_index=-100, reduction='mean', label_smoothing=0.0)", [](B a) {
      return as_module(std::make_shared<CrossEntropyLoss>(a.tensor("weight"), a.integer("ignore_index"),
                                                          a.text("reduction"), a.number("label_smoothing")));
    });
    def("BCELoss(weight=None, reduction='mean')",
        [](B a) { return as_module(std::make_shared<BCELoss>(a.tensor("weight"), a.text("reduction"))); });
    def("BCEWithLogitsLoss(weight=None, reduction='mean', pos_weight=None)", [](B a) {
      return as_module(std::make_shared<BCEWithLogitsLoss>(a.tensor("weight"), a.text("reduction"), a.tensor("pos_weight")));
    });
    def("KLDivLoss(reduction='mean', log_target=False)",
        [](B a) { return as_module(std::make_shared<KLDivLoss>(a.text("reduction"), a.flag("log_target"))); });
    def("CosineEmbeddingLoss(margin=0.0, reduction='mean')",
        [](B a) { return as_module(std::make_shared<CosineEmbeddingLoss>(a.number("margin"), a.text("reduction"))); });
    def("MarginRankingLoss(margin=0.0, reduction='mean')",
        [](B a) { return as_module(std::make_shared<MarginRankingLoss>(a.number("margin"), a.text("reduction"))); });
    def("TripletMarginLoss(margin=1.0, p=2.0, eps=1e-06, swap=False, reduction='mean')", [](B a) {
      return as_module(std::make_shared<TripletMarginLoss>(a.number("margin"), a.number("p"), a.number("eps"),
                                                           a.flag("swap"), a.text("reduction")));
    });
    def("SoftMarginLoss(reduction='mean')",
        [](B a) { return as_module(std::make_shared<SoftMarginLoss>(a.text("reduction"))); });
    def("HingeEmbeddingLoss(margin=1.0, reduction='mean')",
        [](B a) { return as_module(std::make_shared<HingeEmbeddingLoss>(a.number("margin"), a.text("reduction"))); });
    def("PoissonNLLLoss(log_input=True, full=False, eps=1e-08, reduction='mean')", [](B a) {
      return as_module(std::make_shared<PoissonNLLLoss>(a.flag("log_input"), a.flag("full"), a.number("eps"),
                                                        a.text("reduction")));
    });
    def("GaussianNLLLoss(full=False, eps=1e-06, reduction='mean')", [](B a) {
      return as_module(std::make_shared<GaussianNLLLoss>(a.flag("full"), a.number("eps"), a.text("reduction")));
    });
    def("CTCLoss(blank=0, reduction='mean', zero_infinity=False)", [](B a) {
      return as_module(std::make_shared<CTCLoss>(a.integer("blank"), a.text("reduction"), a.flag("zero_infinity")));
    });
    return t;
  }();
  return *defs;
}

std::mutex& table_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

std::shared_ptr<Module> create_module(std::string_view name, std::vector<Value> args, const Kwargs& kwargs) {
  ModuleDef def;
  {
    std::lock_guard<std::mutex> lock(table_mutex());
    auto it = table().find(name);
    TD_CHECK(it != table().end(), ErrorCode::kNotFound, "[create_module] no module named '", name, "'");
    def = it->second;
  }
  const std::string module(name);
  TD_CHECK_ARG(args.size() <= def.params.size(), "[", module, "] __init__() takes ", def.params.size(),
               " positional arguments but ", args.size(), " were given");
  std::map<std::string, Value> values;
  for (size_t i = 0; i < args.size(); ++i) values.emplace(def.params[i].name, std::move(args[i]));
  for (const auto& [key, value] : kwargs) {
    const bool known = std::any_of(def.params.begin(), def.params.end(), [&](const Param& p) { return p.name == key; });
    TD_CHECK_ARG(known, "[", module, "] __init__() got an unexpected keyword argument '", key, "'");
    TD_CHECK_ARG(values.emplace(key, value).second, "[", module, "] __init__() got multiple values for argument '",
                 key, "'");
  }
  for (const Param& p : def.params) {
    if (values.count(p.name)) continue;
    TD_CHECK_ARG(p.default_value.has_value(), "[", module, "] __init__() missing required argument: '", p.name, "'");
    values.emplace(p.name, *p.default_value);
  }
  return def.make(Bound(module, std::move(values)));
}

void register_module_type(std::string signature, ModuleBuilder builder) {
  auto entry = make_def(std::move(signature), std::move(builder));
  std::lock_guard<std::mutex> lock(table_mutex());
  // Registering the same signature again (a second register_models call) is harmless; another one is not.
  auto it = table().find(entry.first);
  if (it != table().end()) {
    TD_CHECK(it->second.signature == entry.second.signature, ErrorCode::kAlreadyExists, "[register_module_type] '",
             entry.first, "' is already registered as ", it->second.signature);
    return;
  }
  table().emplace(std::move(entry));
}

std::vector<std::string> module_signatures() {
  std::lock_guard<std::mutex> lock(table_mutex());
  std::vector<std::string> out;
  for (const auto& [name, def] : table()) out.push_back(def.signature);
  return out;
}

}  // namespace td::nn
