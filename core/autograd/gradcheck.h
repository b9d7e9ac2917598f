// Finite-difference checks of backward formulas (torch.autograd.gradcheck / gradgradcheck).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace td::autograd {

/// The outcome of a gradient check: ok, or a message naming the input, the elements and both values.
struct GradcheckResult {
  bool ok = true;
  std::string message;
  explicit operator bool() const { return ok; }
};

/// A function under test: maps the inputs to one floating or complex tensor.
using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

/// Compares the full Jacobian of fn at `inputs` computed by backward with one computed by central finite
/// differences, (f(x + eps) - f(x - eps)) / 2eps, one input element at a time. The analytical Jacobian is
/// built one row per output element, by a backward with a one-hot grad_output. An element passes when
/// |analytical - numerical| <= atol + rtol * |numerical|. Inputs must be float64 or complex128 leaves that
/// require grad; perturbed copies are contiguous, so make non-contiguous layouts inside fn (e.g.
/// `xs[0].t()`). As torch.autograd.gradcheck: a complex output is checked as real(out) and imag(out), a
/// complex input as its real and imaginary parts, perturbed separately, against the real and imaginary
/// parts of its gradient (PyTorch's convention: dL/dx + i dL/dy for z = x + iy).
/// With `check_forward_ad` (torch's check_forward_ad, on by default here) each numerical column is also
/// compared with forward-mode AD's: fn run on dual inputs (detached, under a dual level) whose one tangent
/// is that column's one-hot direction (1, or i for the imaginary part of a complex input's element). An op
/// without forward mode (a custom function without jvp) makes the check fail with its message; inside a
/// caller's dual level (one is open at a time) the forward part is skipped.
/// Throws INVALID_ARGUMENT when the inputs or fn's output do not qualify.
GradcheckResult gradcheck(GradcheckFn fn, std::vector<Tensor> inputs, double eps = 1e-6, double atol = 1e-5,
                          double rtol = 1e-3, bool check_forward_ad = true);

/// Checks second derivatives: gradcheck of G(inputs, v) = sum_i sum(grad_i * w_i), where grad_i is the
/// gradient of fn's output w.r.t. input i for grad_output v, computed by a create_graph backward, and the
/// w_i are fixed pseudo-random weights. v (also checked, as an extra input) is pseudo-random too; both
/// come from a fixed seed, so results are reproducible.
GradcheckResult gradgradcheck(GradcheckFn fn, std::vector<Tensor> inputs, double eps = 1e-6,
                              double atol = 1e-5, double rtol = 1e-3);

}  // namespace td::autograd
