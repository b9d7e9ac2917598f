// gradcheck and gradgradcheck: analytical Jacobians from backward against central finite differences.
// Complex inputs and outputs follow torch.autograd.gradcheck (1.13, slow mode): a complex output is checked
// as two real functions, real(out) and imag(out); a complex input is two real parameters, its real and
// imaginary parts, each perturbed on its own. For a real output f, PyTorch's convention makes the gradient
// of z = x + iy equal to df/dx + i df/dy, so its real part is compared with the x column and its imaginary
// part with the y column.
#include "core/autograd/gradcheck.h"

#include <cmath>
#include <complex>
#include <iomanip>
#include <random>
#include <sstream>

#include "core/autograd/forward_ad.h"
#include "core/error.h"

namespace td::autograd {

namespace {
// "[1, 2]": the multi-index of flat element `flat` of a row-major shape.
std::string index_str(int64_t flat, std::span<const int64_t> shape) {
  std::vector<int64_t> index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return shape_str(index);
}

void check_inputs(const std::vector<Tensor>& inputs) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    TD_CHECK_ARG(t.defined(), "[gradcheck] input ", i, " is undefined");
    TD_CHECK_ARG(t.dtype() == DType::kFloat64 || t.dtype() == DType::kComplex128, "[gradcheck] input ", i,
                 " must be float64 or complex128, not ", dtype_name(t.dtype()));
    TD_CHECK_ARG(t.is_leaf() && t.requires_grad(), "[gradcheck] input ", i,
                 " must be a leaf that requires grad");
  }
}

Tensor evaluate(const GradcheckFn& fn, const std::vector<Tensor>& inputs) {
  Tensor out = fn(inputs);
  TD_CHECK_ARG(out.defined() && (is_floating(out.dtype()) || is_complex(out.dtype())),
               "[gradcheck] fn must return a floating or complex tensor, not ",
               out.defined() ? dtype_name(out.dtype()) : "an undefined tensor");
  return out;
}

// t's values as real parameters: a complex element is two, its real part then its imaginary part.
std::vector<double> parameters(const Tensor& t) {
  if (!is_complex(t.dtype())) return t.to_vector<double>();
  std::vector<double> values;
  for (const std::complex<double>& z : t.to_vector<std::complex<double>>()) {
    values.push_back(z.real());
    values.push_back(z.imag());
  }
  return values;
}

// A contiguous leaf copy of t (on t's device, requiring grad) with real parameter j shifted by delta.
Tensor perturbed(const Tensor& t, std::vector<double> values, int64_t j, double delta) {
  values[static_cast<size_t>(j)] += delta;
  Tensor p;
  if (is_complex(t.dtype())) {
    std::vector<std::complex<double>> z(values.size() / 2);
    for (size_t k = 0; k < z.size(); ++k) z[k] = {values[2 * k], values[2 * k + 1]};
    p = tensor(z, t.shape(), t.device());
  } else {
    p = tensor(values, t.shape(), t.device());
  }
  p.requires_grad_();
  return p;
}

// Clears the inputs' .grad for the duration of a scope and puts the old values back after it.
class GradStash {
 public:
  explicit GradStash(const std::vector<Tensor>& inputs) : inputs_(inputs) {
    for (const Tensor& t : inputs_) {
      saved_.push_back(t.grad());
      Tensor(t).set_grad(Tensor());
    }
  }
  ~GradStash() {
    for (size_t i = 0; i < inputs_.size(); ++i) Tensor(inputs_[i]).set_grad(saved_[i]);
  }
  GradStash(const GradStash&) = delete;
  GradStash& operator=(const GradStash&) = delete;

 private:
  const std::vector<Tensor>& inputs_;
  std::vector<Tensor> saved_;
};

// Column j of input i's block of the Jacobian by forward-mode AD: fn on dual inputs, input i's tangent one-hot
// at element j. An output without a tangent is constant in the inputs: a zero column.
std::vector<double> forward_column(const GradcheckFn& fn, const std::vector<Tensor>& inputs, size_t i, int64_t j,
                                   int64_t n_out) {
  namespace fwd = forward_ad;
  fwd::DualLevel level;
  std::vector<Tensor> duals;
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor primal = inputs[k].detach();
    if (k == i) {
      // Real parameter j: element j of a real input, or the real (even j) or imaginary (odd j) part of element
      // j / 2 of a complex one.
      std::vector<double> one_hot(static_cast<size_t>(primal.numel()) * (is_complex(primal.dtype()) ? 2 : 1), 0.0);
      one_hot[static_cast<size_t>(j)] = 1.0;
      primal = fwd::make_dual(primal, perturbed(primal, one_hot, 0, 0.0).detach());
    }
    duals.push_back(primal);
  }
  Tensor tangent = fwd::unpack_dual(evaluate(fn, duals)).tangent;
  if (!tangent.defined()) return std::vector<double>(static_cast<size_t>(n_out), 0.0);
  return tangent.to_vector<double>();
}

// A float64 (or complex128, both parts) tensor of uniform values in [-1, 1] from rng.
Tensor uniform(std::vector<int64_t> shape, Device device, std::mt19937_64& rng, bool complex = false) {
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::vector<double> values(static_cast<size_t>(n));
  for (double& v : values) v = dist(rng);
  Tensor re = tensor(values, shape, device);
  if (!complex) return re;
  for (double& v : values) v = dist(rng);
  return Tensor::complex(re, tensor(values, std::move(shape), device));
}
}  // namespace

GradcheckResult gradcheck(GradcheckFn fn, std::vector<Tensor> inputs, double eps, double atol, double rtol,
                          bool check_forward_ad) {
  check_inputs(inputs);
  const size_t n_in = inputs.size();
  bool complex_output = false;
  {
    GradStash stash(inputs);
    complex_output = is_complex(evaluate(fn, inputs).dtype());
  }
  if (complex_output) {
    // torch.autograd.gradcheck's _real_and_imag_output: each part is a real function of the inputs.
    for (bool real_part : {true, false}) {
      GradcheckFn part = [fn, real_part](const std::vector<Tensor>& xs) {
        Tensor out = fn(xs);
        return real_part ? out.real() : out.imag();
      };
      GradcheckResult r = gradcheck(part, inputs, eps, atol, rtol, check_forward_ad);
      if (!r.ok) {
        r.message = str("[gradcheck] (", real_part ? "real" : "imaginary", " part of the complex output) ",
                        r.message);
        return r;
      }
    }
    return {};
  }
  // Real parameters per input: a complex element counts twice (real part, imaginary part).
  std::vector<int64_t> n_params(n_in);
  for (size_t i = 0; i < n_in; ++i) n_params[i] = inputs[i].numel() * (is_complex(inputs[i].dtype()) ? 2 : 1);

  // Analytical Jacobian, one backward per output element: jac[i][j * n_out + k] = d out[k] / d input_i[j].
  std::vector<std::vector<double>> analytical(n_in);
  std::vector<int64_t> out_shape;
  DType out_dtype = DType::kFloat64;
  int64_t n_out = 0;
  {
    GradStash stash(inputs);
    Tensor out = evaluate(fn, inputs);
    out_shape = out.shape();
    out_dtype = out.dtype();
    n_out = out.numel();
    for (size_t i = 0; i < n_in; ++i) analytical[i].assign(static_cast<size_t>(n_params[i] * n_out), 0.0);
    // An output that does not require grad is constant in the inputs: its Jacobian is zero.
    for (int64_t k = 0; k < n_out && out.requires_grad(); ++k) {
      for (Tensor& t : inputs) t.set_grad(Tensor());
      std::vector<double> one_hot(static_cast<size_t>(n_out), 0.0);
      one_hot[static_cast<size_t>(k)] = 1.0;
      out.backward(tensor(one_hot, out_shape, out.device()).to(out_dtype), /*retain_graph=*/true);
      for (size_t i = 0; i < n_in; ++i) {
        Tensor g = inputs[i].grad();
        if (!g.defined()) continue;  // no path from this input: a zero column
        if (g.shape() != inputs[i].shape() || g.dtype() != inputs[i].dtype()) {
          return {false, str("[gradcheck] the gradient of input ", i, " is ", dtype_name(g.dtype()), " ",
                             shape_str(g.shape()), " but the input is ", dtype_name(inputs[i].dtype()), " ",
                             shape_str(inputs[i].shape()))};
        }
        std::vector<double> gv = parameters(g);
        for (size_t j = 0; j < gv.size(); ++j) analytical[i][j * n_out + k] = gv[j];
      }
    }
  }

  // Numerical Jacobian, column by column, compared as it is built.
  for (size_t i = 0; i < n_in; ++i) {
    std::vector<double> values = parameters(inputs[i]);
    const bool complex_input = is_complex(inputs[i].dtype());
    for (int64_t j = 0; j < n_params[i]; ++j) {
      std::vector<Tensor> args = inputs;
      args[i] = perturbed(inputs[i], values, j, eps);
      Tensor plus = evaluate(fn, args);
      args[i] = perturbed(inputs[i], values, j, -eps);
      Tensor minus = evaluate(fn, args);
      if (plus.shape() != out_shape || minus.shape() != out_shape) {
        return {false, str("[gradcheck] fn returned shape ", shape_str(plus.shape()),
                           " for a perturbed input ", i, " but ", shape_str(out_shape), " for the original")};
      }
      std::vector<double> p = plus.to_vector<double>(), m = minus.to_vector<double>();
      std::vector<double> forward;
      // Inside a caller's dual level a level of our own cannot open (one at a time): no forward check there.
      if (check_forward_ad && !forward_ad::is_active()) {
        try {
          forward = forward_column(fn, inputs, i, j, n_out);
        } catch (const Error& e) {
          if (e.code() != ErrorCode::kUnimplemented) throw;
          return {false, str("[gradcheck] forward-mode AD is not supported by fn (pass check_forward_ad=false to "
                             "check reverse mode only): ", e.what())};
        }
      }
      for (int64_t k = 0; k < n_out; ++k) {
        double numerical = (p[k] - m[k]) / (2 * eps);
        double a = analytical[i][static_cast<size_t>(j * n_out + k)];
        const char* mode = "analytical";
        if (std::fabs(a - numerical) <= atol + rtol * std::fabs(numerical)) {
          if (forward.empty()) continue;
          a = forward[static_cast<size_t>(k)];
          mode = "forward-mode AD";
          if (std::fabs(a - numerical) <= atol + rtol * std::fabs(numerical)) continue;
        }
        std::ostringstream os;
        os << std::setprecision(10) << "[gradcheck] Jacobian mismatch for output element " << k << " "
           << index_str(k, out_shape) << " with respect to input " << i << ", element "
           << (complex_input ? j / 2 : j) << " " << index_str(complex_input ? j / 2 : j, inputs[i].sizes())
           << (complex_input ? (j % 2 ? " (imaginary part)" : " (real part)") : "") << ": numerical "
           << numerical << " vs " << mode << " " << a << " (atol " << atol << ", rtol " << rtol << ")";
        return {false, os.str()};
      }
    }
  }
  return {};
}

GradcheckResult gradgradcheck(GradcheckFn fn, std::vector<Tensor> inputs, double eps, double atol,
                              double rtol) {
  check_inputs(inputs);
  const size_t n_in = inputs.size();
  Tensor out = evaluate(fn, inputs);
  std::mt19937_64 rng(20240531);
  std::vector<Tensor> weights;
  for (const Tensor& t : inputs)
    weights.push_back(uniform(t.shape(), t.device(), rng, is_complex(t.dtype())));
  Tensor v = uniform(out.shape(), out.device(), rng, is_complex(out.dtype()));
  v.requires_grad_();

  // G(x..., v) = sum_i sum(dL/dx_i * w_i) with L = sum(fn(x) * v): first derivatives kept differentiable.
  GradcheckFn first_order = [fn, weights, n_in](const std::vector<Tensor>& xs) {
    std::vector<Tensor> x(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(n_in));
    const Tensor& grad_output = xs[n_in];
    GradStash stash(x);
    Tensor y = evaluate(fn, x);
    Tensor total = zeros({}, {DType::kFloat64, grad_output.device()});
    if (!y.requires_grad()) return total;
    y.backward(grad_output.to(y.dtype()), /*retain_graph=*/true, /*create_graph=*/true);
    for (size_t i = 0; i < n_in; ++i) {
      Tensor g = x[i].grad();
      if (g.defined()) total = total.add(g.mul(weights[i]).sum());
    }
    return total;
  };
  inputs.push_back(v);
  GradcheckResult r = gradcheck(first_order, inputs, eps, atol, rtol, /*check_forward_ad=*/false);
  if (!r.ok) r.message = str("[gradgradcheck] (input ", n_in, " is the grad_output) ", r.message);
  return r;
}

}  // namespace td::autograd
