// torch.autograd.grad: gradients of outputs with respect to chosen inputs, returned rather than
// accumulated into .grad.
#pragma once

#include <optional>
#include <vector>

#include "core/tensor.h"

namespace td::autograd {

/// torch.autograd.backward: accumulates the gradients of `tensors` (weighted by `grad_tensors`, which may be
/// omitted for one-element tensors) into the .grad of the graph's leaves, or, with `inputs`, of those tensors
/// only (leaf or not), running only the part of the graph that leads to them. `retain_graph` defaults to
/// `create_graph`.
void backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors = {},
              std::optional<bool> retain_graph = std::nullopt, bool create_graph = false,
              const std::vector<Tensor>& inputs = {});

/// The gradients of `outputs` (weighted by `grad_outputs`, which may be omitted, or hold undefined tensors,
/// for one-element outputs) with respect to each of `inputs`, one per input, as torch.autograd.grad. No
/// leaf's .grad is touched (leaf accumulators do not run; post-accumulate-grad hooks do not fire), though a
/// non-leaf on the way that called retain_grad() keeps its gradient, as in PyTorch 2.x; only the part of
/// the graph between the outputs and the inputs runs. Tensor hooks run as in backward, and an input's own
/// hooks run on its gradient before it is returned. `retain_graph` defaults to `create_graph`; with
/// `create_graph` the results have a graph of their own (higher derivatives). An input the outputs do not
/// depend on fails unless `allow_unused`, which gives it an undefined tensor.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {},
                         std::optional<bool> retain_graph = std::nullopt, bool create_graph = false,
                         bool allow_unused = false);

}  // namespace td::autograd
