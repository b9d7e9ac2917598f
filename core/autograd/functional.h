// torch.autograd.functional: vjp, jvp, jacobian, hessian, vhp and hvp of a function of tensors, built on
// autograd::grad as PyTorch 1.13 builds them (jvp and hvp by the double-backward trick, so they work for
// every op with a double backward; no dual tensors).
#pragma once

#include <functional>
#include <vector>

#include "core/tensor.h"

namespace td::autograd::functional {

/// A function of several tensors to several tensors (PyTorch's `func` taking and returning tuples).
using Function = std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs)>;
/// A function of several tensors to one.
using ScalarFunction = std::function<Tensor(const std::vector<Tensor>& inputs)>;

/// What vjp, jvp, vhp and hvp return: the function's outputs and the product.
struct Product {
  std::vector<Tensor> outputs;
  std::vector<Tensor> product;
};

/// The vector-Jacobian product v^T J at `inputs`: one tensor per input. `v` (one per output) may be empty
/// when the function has one single-element output. `create_graph` keeps graphs for higher derivatives;
/// `strict` fails for an input the outputs do not depend on (otherwise its product is zeros).
Product vjp(const Function& func, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v = {},
            bool create_graph = false, bool strict = false);
/// The Jacobian-vector product J v at `inputs`: one tensor per output. `v` (one per input) may be empty when
/// there is one single-element input.
Product jvp(const Function& func, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v = {},
            bool create_graph = false, bool strict = false);
/// The Jacobian: jacobian[i][j] is d outputs[i] / d inputs[j], of shape outputs[i].shape + inputs[j].shape.
std::vector<std::vector<Tensor>> jacobian(const Function& func, const std::vector<Tensor>& inputs,
                                          bool create_graph = false, bool strict = false);
/// The Hessian of a function with one single-element output: hessian[i][j] is d2 f / d inputs[i] d inputs[j],
/// of shape inputs[i].shape + inputs[j].shape.
std::vector<std::vector<Tensor>> hessian(const ScalarFunction& func, const std::vector<Tensor>& inputs,
                                         bool create_graph = false, bool strict = false);
/// v^T H and H v for such a function (the same for a symmetric Hessian; hvp by the double-backward trick).
Product vhp(const ScalarFunction& func, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v,
            bool create_graph = false, bool strict = false);
Product hvp(const ScalarFunction& func, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v,
            bool create_graph = false, bool strict = false);

}  // namespace td::autograd::functional
