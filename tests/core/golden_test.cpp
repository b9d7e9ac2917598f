// PyTorch golden fixtures (tests/golden/*.json, written by tests/golden/generate*.py with PyTorch 1.13):
// each case runs its op through td::call_op by name on every device, and the output's values, dtype and
// shape, and the gradients of loss = (out * w).sum(), must match PyTorch's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/autograd/forward_ad.h"
#include "core/backend.h"
#include "core/error.h"
#include "core/ops/registry.h"
#include "core/tensor.h"
#include "tests/core/golden_json.h"

namespace td {
namespace {

using nlohmann::json;

/// One fixture case, as generate.py wrote it.
struct GoldenCase {
  std::string name;
  json spec;
};

void PrintTo(const GoldenCase& c, std::ostream* os) {
  *os << c.name;
}

// Whether this process may run a golden test. gtest instantiates parameterised suites after parsing its flags,
// so the filter is known here; CTest starts one process per test with the test's exact name as the filter,
// and a process for another test need not parse the fixtures (1.8 MB of JSON, 0.17 s).
bool may_run_golden_tests() {
  const std::string filter = GTEST_FLAG_GET(filter);
  return filter.find_first_of("*?-") != std::string::npos || filter.find("Golden") != std::string::npos;
}

// Every fixture file (one per generator: ops.json, shape.json, ...), in name order. Loaded once, before the
// test cases are instantiated; an unreadable file gives no cases, which GoldenFixture.Loads reports.
const std::vector<GoldenCase>& golden_cases() {
  static const std::vector<GoldenCase>* cases = [] {
    auto* out = new std::vector<GoldenCase>();
    if (!may_run_golden_tests()) return out;
    std::vector<std::filesystem::path> files;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(fixture_dir(), ec)) {
      if (entry.path().extension() == ".json") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      std::ifstream in(file);
      json doc = json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (doc.is_discarded() || !doc.contains("cases")) return new std::vector<GoldenCase>();  // fail Loads
      for (const json& c : doc["cases"]) out->push_back({c.at("name").get<std::string>(), c});
    }
    return out;
  }();
  return *cases;
}

// ---- JSON -> tensors and op arguments ----


Value value_from_json(const json& v) {
  if (v.is_null()) return None{};
  if (v.is_boolean()) return Scalar(v.get<bool>());
  if (v.is_number_integer()) return Scalar(v.get<int64_t>());
  if (v.is_number_float()) return Scalar(v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  // A complex number: {"complex": [re, im]} (generate.encode_kwargs).
  if (v.is_object()) return Scalar(std::complex<double>(v.at("complex").at(0).get<double>(), v.at("complex").at(1).get<double>()));
  return v.get<std::vector<int64_t>>();
}

// PyTorch-style call -> positional values: tensors fill the op's leading Tensor arguments (a Tensor[]
// argument, as cat's, takes all the remaining ones), kwargs go by their signature names, and the schema's
// defaults fill any gap before the last given argument.
std::vector<Value> positional_args(std::string_view op, const std::vector<Tensor>& tensors,
                                   const json& kwargs) {
  const Schema& schema = Registry::get().find(op).schema;
  std::vector<std::optional<Value>> slots(schema.args.size());
  size_t next_tensor = 0;
  for (size_t i = 0; i < schema.args.size() && next_tensor < tensors.size(); ++i) {
    if (schema.args[i].type == ArgType::kTensor) slots[i] = tensors[next_tensor++];
    if (schema.args[i].type == ArgType::kTensorList) {
      // The list takes the remaining tensors but those of the Tensor arguments after it (index_put's values).
      size_t after = static_cast<size_t>(std::count_if(schema.args.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                                                       schema.args.end(),
                                                       [](const ArgSpec& a) { return a.type == ArgType::kTensor; }));
      size_t end = tensors.size() - std::min(after, tensors.size() - next_tensor);
      slots[i] = std::vector<Tensor>(tensors.begin() + static_cast<std::ptrdiff_t>(next_tensor),
                                     tensors.begin() + static_cast<std::ptrdiff_t>(end));
      next_tensor = end;
    }
  }
  TD_CHECK_ARG(next_tensor == tensors.size(), "[golden] ", op, " takes fewer tensors than the case gives");
  for (const auto& [key, v] : kwargs.items()) {
    // "indices@none": positions of None (undefined tensors) in the `Tensor?[]` argument "indices".
    std::string name = key;
    if (auto at = key.find("@none"); at != std::string::npos) {
      name = key.substr(0, at);
      auto it = std::find_if(schema.args.begin(), schema.args.end(), [&](const ArgSpec& a) { return a.name == name; });
      TD_CHECK_ARG(it != schema.args.end() && it->optional_elements, "[golden] ", op, " has no Tensor?[] '", name, "'");
      auto& list = std::get<std::vector<Tensor>>(*slots[static_cast<size_t>(it - schema.args.begin())]);
      for (int64_t pos : v.get<std::vector<int64_t>>()) list.insert(list.begin() + pos, Tensor());
      continue;
    }
    auto it = std::find_if(schema.args.begin(), schema.args.end(),
                           [&](const ArgSpec& a) { return a.name == name; });
    TD_CHECK_ARG(it != schema.args.end(), "[golden] ", op, " has no argument '", name, "'");
    slots[static_cast<size_t>(it - schema.args.begin())] = value_from_json(v);
  }
  size_t count = slots.size();
  while (count > 0 && !slots[count - 1]) --count;
  std::vector<Value> values;
  for (size_t i = 0; i < count; ++i) {
    TD_CHECK_ARG(slots[i] || schema.args[i].default_value, "[golden] ", op, " needs argument '",
                 schema.args[i].name, "'");
    values.push_back(slots[i] ? *slots[i] : *schema.args[i].default_value);
  }
  return values;
}

std::vector<Tensor> call_by_name_all(std::string_view op, const std::vector<Tensor>& tensors, const json& kwargs) {
  return call_op(op, positional_args(op, tensors, kwargs));
}

Tensor call_by_name(std::string_view op, const std::vector<Tensor>& tensors, const json& kwargs) {
  std::vector<Tensor> outs = call_by_name_all(op, tensors, kwargs);
  TD_CHECK_ARG(outs.size() == 1, "[golden] ", op, " returned ", outs.size(), " tensors");
  return outs[0];
}

// ---- comparison ----

/// allclose(actual, expected) with tolerances that cover float32 summation order and BLAS blocking, and for
/// the 16-bit floats a rounding or two (float16 keeps 11 significant bits, 2^-10 ~ 1e-3 relative; bfloat16
/// keeps 8, 2^-7 ~ 8e-3): a gradient computed in float16 rounds each of its steps, PyTorch's float32
/// reference once.
struct Tolerance {
  double rtol, atol;
};
Tolerance tolerance_for(DType dtype) {
  switch (dtype) {
    case DType::kFloat16: return {2e-3, 1e-3};
    case DType::kBFloat16: return {1.6e-2, 1e-2};
    case DType::kFloat32:
    case DType::kComplex64: return {1e-5, 1e-5};
    default: return {1e-12, 1e-12};
  }
}

/// `loosen` multiplies both tolerances (derivatives a case lists in derivative_loosening); `norm_wise` scales
/// the absolute one by the tensor's largest magnitude (torch.linalg's results, see below).
::testing::AssertionResult matches(const Tensor& actual, const json& expected, double loosen = 1.0,
                                   bool norm_wise = false) {
  if (!actual.defined()) return ::testing::AssertionFailure() << "is undefined";
  std::string want_dtype = expected.at("dtype").get<std::string>();
  auto want_shape = expected.at("shape").get<std::vector<int64_t>>();
  if (dtype_name(actual.dtype()) != want_dtype || actual.shape() != want_shape) {
    return ::testing::AssertionFailure()
           << "is " << dtype_name(actual.dtype()) << " " << shape_str(actual.shape()) << ", PyTorch gives "
           << want_dtype << " " << shape_str(want_shape);
  }
  // A complex tensor is compared part by part: its values as [re0, im0, re1, im1, ...].
  std::vector<double> got;
  json want = json::array();
  if (is_complex(actual.dtype())) {
    for (const std::complex<double>& z : actual.to_vector<std::complex<double>>()) {
      got.push_back(z.real());
      got.push_back(z.imag());
    }
    for (const json& pair : expected.at("values")) {
      want.push_back(pair.at(0));
      want.push_back(pair.at(1));
    }
  } else {
    got = actual.to_vector<double>();
    want = expected.at("values");
  }
  bool exact = is_integral(actual.dtype());
  Tolerance tol = tolerance_for(actual.dtype());
  tol.rtol *= loosen;
  tol.atol *= loosen;
  // For torch.linalg's results in 32- and 64-bit floats the absolute part scales with the tensor's largest
  // finite magnitude: an element that a sum of larger terms cancelled down carries their rounding (a
  // least-squares gradient of entries up to 19, through cuSOLVER's Jacobi SVD rather than LAPACK's, missed
  // 0.3738 by 1.5e-5 in float32). Elementwise ops keep the per-element tolerance.
  if (norm_wise && !exact && !is_reduced_float(actual.dtype())) {
    double largest = 1.0;
    for (const json& v : want) {
      const double w = number_from_json(v);
      if (std::isfinite(w)) largest = std::max(largest, std::fabs(w));
    }
    tol.atol *= largest;
  }
  int mismatches = 0;
  std::ostringstream first;
  first << std::setprecision(17);
  for (size_t i = 0; i < got.size(); ++i) {
    double w = number_from_json(want[i]);
    bool ok = exact                             ? got[i] == w
              : std::isnan(w) || std::isinf(w) ? (std::isnan(w) ? std::isnan(got[i]) : got[i] == w)
                                                : std::fabs(got[i] - w) <= tol.atol + tol.rtol * std::fabs(w);
    if (ok) continue;
    if (mismatches++ == 0) first << "element " << i << " is " << got[i] << ", PyTorch gives " << w;
  }
  if (mismatches == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << mismatches << " of " << got.size() << " values differ; first: " << first.str()
         << "\n  actual: " << actual.str();
}

// Cases whose values PyTorch leaves unspecified on CUDA: max_unpool2d of indices from overlapping windows
// holds duplicates, and each duplicated position gets whichever thread's value lands last, in PyTorch's CUDA
// kernel as in ours (the CPU keeps the last in order). Their gradients, a gather, are still compared.
bool values_unspecified(const std::string& name, Device device) {
  return device.is_cuda() && name == "max_unpool2d_unbatched";
}

// How much looser a case's gradients and tangents compare than its values. cuSOLVER's float32 Jacobi SVD
// agrees with LAPACK's to the values' tolerance (1e-5), and the SVD's backward, through 1 / (s_i^2 - s_j^2),
// amplifies that difference: on an H100 a gradient entry of 19.5 came out 1.3e-3 away (7e-5 relative).
double derivative_loosening(const std::string& name, Device device) {
  return device.is_cuda() && name == "svd_f32" ? 10.0 : 1.0;
}

// Eigenvectors and singular vectors are unique up to a sign per vector (a phase, for complex ones): LAPACK
// and cuSOLVER pick different ones, as PyTorch's CPU and CUDA results do. gauge_to(ours, theirs) is, per
// column j, the unit number d_j that turns ours[..., :, j] into PyTorch's: sign(<ours_j, theirs_j>) (its
// phase, for complex vectors). It is a constant (no gradient): ours * d is the function PyTorch's fixture
// differentiated, so the values, the gradients of the fixture's loss and the tangents compare.
Tensor gauge_to(const Tensor& ours, const json& theirs) {
  Tensor dot = ours.detach().conj().mul(tensor_from_json(theirs, ours.device())).sum({-2}, /*keepdim=*/true);
  // Unit vectors that agree up to a unit factor have |<ours_j, theirs_j>| = 1; near 0 they are other vectors
  // (a repeated eigenvalue's, whose basis is free): no sign makes them comparable.
  const double weakest = dot.abs().min().item<double>();
  EXPECT_GT(weakest, 0.5) << "a vector is not PyTorch's up to a unit factor (|<ours, theirs>| = " << weakest << ")";
  return is_complex(dot.dtype()) ? dot.div(dot.abs()) : dot.sign();
}

// Aligns linalg_eigh's eigenvectors (columns of its second output) and linalg_svd's singular vectors (U's
// columns, Vh's rows, so that U diag(S) Vh is unchanged) with PyTorch's; returns U's gauge for the tangent of
// linalg_svd's first output, an undefined Tensor otherwise.
Tensor align_gauge(const std::string& op, std::vector<Tensor>& outs, const json& spec) {
  if (op == "linalg_eigh") {
    outs[1] = outs[1].mul(gauge_to(outs[1], spec.at("extra_outputs")[0]));
  } else if (op == "linalg_svd") {
    // Reduced (or square) factors only: full_matrices' extra columns of U are free up to a rotation.
    EXPECT_EQ(outs[0].size(-1), outs[2].size(-2)) << "the gauge takes U and Vh with one vector each per value";
    Tensor d = gauge_to(outs[0], spec.at("expected"));
    outs[0] = outs[0].mul(d);
    outs[2] = outs[2].mul(d.conj().transpose(-2, -1));
    return d;
  }
  return Tensor();
}

// ---- the tests ----

class GoldenTest : public ::testing::TestWithParam<std::tuple<GoldenCase, std::string>> {
 protected:
  void SetUp() override {
    device_ = Device::parse(std::get<1>(GetParam()));
    if (device_.is_cuda() && !backend(DeviceType::kCUDA).is_available()) GTEST_SKIP() << "no CUDA device";
  }
  Device device_;
};

TEST_P(GoldenTest, MatchesPyTorch) {
  const json& spec = std::get<0>(GetParam()).spec;
  std::string op = spec.at("op").get<std::string>();
  std::vector<Tensor> leaves, args;
  for (const json& input : spec.at("inputs")) {
    Tensor leaf = tensor_from_json(input, device_);
    // "nograd" cases are ones PyTorch cannot differentiate: their leaves do not require grad there either; nor
    // does an input marked "requires_grad": false (a loss's class weights, which PyTorch refuses to differentiate).
    // Complex leaves require grad in the cases that carry gradients (generate.make_case's; the forward-only
    // shape_case ones of complex.json leave them alone).
    bool weighted = !spec.at("grad_weight").is_null();
    if (spec.contains("extra_grad_weights")) {
      for (const json& w : spec.at("extra_grad_weights")) weighted = weighted || !w.is_null();
    }
    const bool differentiable = is_floating(leaf.dtype()) || (is_complex(leaf.dtype()) && weighted);
    if (differentiable && !spec.value("nograd", false) && input.value("requires_grad", true)) {
      leaf.requires_grad_();
    }
    const json& layout = input.at("layout");
    args.push_back(layout.is_null()
                       ? leaf
                       : call_by_name(layout.at("op").get<std::string>(), {leaf}, layout.at("kwargs")));
    leaves.push_back(leaf);
  }

  std::vector<Tensor> outs = call_by_name_all(op, args, spec.at("kwargs"));
  size_t extra = spec.contains("extra_outputs") ? spec.at("extra_outputs").size() : 0;
  ASSERT_EQ(outs.size(), 1 + extra) << op << " output count";
  const Tensor gauge = align_gauge(op, outs, spec);
  Tensor out = outs[0];
  const bool unspecified = values_unspecified(std::get<0>(GetParam()).name, device_);
  const double loosen = derivative_loosening(std::get<0>(GetParam()).name, device_);
  const bool norm_wise = op.starts_with("linalg_");
  EXPECT_TRUE(unspecified || matches(out, spec.at("expected"), 1.0, norm_wise)) << "output of " << op;
  for (size_t i = 0; i < extra; ++i) {
    EXPECT_TRUE(matches(outs[1 + i], spec.at("extra_outputs")[i], 1.0, norm_wise))
        << "output " << 1 + i << " of " << op;
  }

  const json& weight = spec.at("grad_weight");
  // Ops whose other outputs carry a gradient (split, chunk, unbind; linalg.lu, whose first output P has none)
  // weight them too.
  bool extra_weighted = false;
  if (spec.contains("extra_grad_weights")) {
    for (const json& w : spec.at("extra_grad_weights")) extra_weighted = extra_weighted || !w.is_null();
  }
  if (weight.is_null()) {
    EXPECT_FALSE(out.requires_grad()) << "PyTorch's output does not require grad";
    if (!extra_weighted) return;
  } else {
    ASSERT_TRUE(out.requires_grad()) << "PyTorch's output requires grad";
  }
  Tensor loss = weight.is_null() ? Tensor() : out.mul(tensor_from_json(weight, out.device())).sum();
  for (size_t i = 0; extra_weighted && i < extra; ++i) {
    const json& w = spec.at("extra_grad_weights")[i];
    if (w.is_null()) continue;
    Tensor term = outs[1 + i].mul(tensor_from_json(w, outs[1 + i].device())).sum();
    loss = loss.defined() ? loss.add(term) : term;
  }
  // A complex output's loss is Re(sum(out * w)), as generate.make_case writes it.
  if (is_complex(loss.dtype())) loss = loss.real();
  loss.backward();
  const json& grads = spec.at("grads");
  for (size_t i = 0; i < leaves.size(); ++i) {
    if (grads[i].is_null()) {
      EXPECT_FALSE(leaves[i].grad().defined()) << "input " << i << " has a grad; PyTorch's has none";
    } else {
      EXPECT_TRUE(matches(leaves[i].grad(), grads[i], loosen, norm_wise)) << "gradient of input " << i;
    }
  }

  // Forward mode: PyTorch's output tangent for the case's input tangents (generate.forward_mode).
  if (!spec.contains("jvp") || unspecified) return;
  autograd::forward_ad::DualLevel level;
  std::vector<Tensor> duals;
  const json& tangents = spec.at("tangents");
  for (size_t i = 0; i < leaves.size(); ++i) {
    Tensor primal = leaves[i].detach();
    if (!tangents[i].is_null()) primal = autograd::forward_ad::make_dual(primal, tensor_from_json(tangents[i], device_));
    const json& layout = spec.at("inputs")[i].at("layout");
    duals.push_back(layout.is_null() ? primal
                                     : call_by_name(layout.at("op").get<std::string>(), {primal}, layout.at("kwargs")));
  }
  Tensor tangent = autograd::forward_ad::unpack_dual(call_by_name_all(op, duals, spec.at("kwargs"))[0]).tangent;
  ASSERT_TRUE(tangent.defined()) << "PyTorch's output has a forward-mode tangent";
  if (gauge.defined()) tangent = tangent.mul(gauge);
  EXPECT_TRUE(matches(tangent, spec.at("jvp"), loosen, norm_wise)) << "forward-mode tangent of " << op;
}

std::string golden_name(const ::testing::TestParamInfo<GoldenTest::ParamType>& info) {
  return std::get<0>(info.param).name + (std::get<1>(info.param) == "cpu" ? "_cpu" : "_cuda");
}

INSTANTIATE_TEST_SUITE_P(PyTorch, GoldenTest,
                         ::testing::Combine(::testing::ValuesIn(golden_cases()),
                                            ::testing::Values(std::string("cpu"), std::string("cuda:0"))),
                         golden_name);

TEST(GoldenFixture, Loads) {
  std::ifstream in(fixture_dir() + "/ops.json");
  ASSERT_TRUE(in) << "cannot open " << fixture_dir() << "/ops.json; run /usr/bin/python3 tests/golden/generate.py";
  EXPECT_GE(golden_cases().size(), 100u);
  std::set<std::string> names;
  for (const GoldenCase& c : golden_cases()) EXPECT_TRUE(names.insert(c.name).second) << "duplicate case " << c.name;
}

// Adding a differentiable op means adding its golden cases to generate.py (STYLE.md, "Tests").
TEST(GoldenFixture, CoversEveryDifferentiableOp) {
  std::set<std::string> covered;
  for (const GoldenCase& c : golden_cases()) covered.insert(c.spec.at("op").get<std::string>());
  for (const OpDef* def : Registry::get().list()) {
    if (def->autograd == AutogradKind::kNone) continue;
    // An in-place op's value is its functional op's (covered), through one mechanism that
    // generate_inplace.py and inplace_test.cpp check; an in-place op whose functional op is not named by
    // stripping the underscore (fill_, zero_, copy_) must be covered itself.
    if (def->inplace && covered.count(def->schema.name.substr(0, def->schema.name.size() - 1))) continue;
    // Forward mode's plumbing needs an open dual level; forward_ad_test.cpp covers it, locally and remotely.
    if (def->schema.name == "_make_dual" || def->schema.name == "_unpack_dual") continue;
    EXPECT_TRUE(covered.count(def->schema.name)) << "no golden case for op '" << def->schema.name
                                                 << "': add one to tests/golden/generate.py and rerun it";
  }
}

}  // namespace
}  // namespace td
