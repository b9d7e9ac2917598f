// Optimizers and lr schedulers by PyTorch's class name and keyword arguments:
// create_optimizer("SGD", {{params, {}}}, {{"lr", 0.05}, {"momentum", 0.9}}) is
// torch.optim.SGD(params, lr=0.05, momentum=0.9). A remote client creates server-held optimizers this way.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/optim/lr_scheduler.h"
#include "core/optim/optimizer.h"
#include "core/value.h"

namespace td::optim {

/// Keyword arguments, by name. A pair (Adam's betas) is a float tensor of two values, the protocol having no
/// float lists.
using Kwargs = std::vector<std::pair<std::string, Value>>;

/// One parameter group: its parameters and the options it overrides ({"params": ..., "lr": ...}).
struct GroupSpec {
  std::vector<Tensor> params;
  Kwargs options;
};

/// torch.optim.<name>(groups, **defaults) for SGD, Adam, AdamW, Adamax, NAdam, RAdam, RMSprop, Adagrad and
/// Adadelta (LBFGS needs a closure, which a command cannot carry). Unknown names are NOT_FOUND; unknown or
/// ill-typed options INVALID_ARGUMENT naming the optimizer and option.
std::unique_ptr<Optimizer> create_optimizer(std::string_view name, std::vector<GroupSpec> groups,
                                            const Kwargs& defaults = {});

/// torch.optim.lr_scheduler.<name>(optimizer, **kwargs) for StepLR, MultiStepLR, ConstantLR, LinearLR,
/// ExponentialLR, PolynomialLR, CosineAnnealingLR, CosineAnnealingWarmRestarts and OneCycleLR.
std::unique_ptr<LRScheduler> create_scheduler(std::string_view name, Optimizer& optimizer, const Kwargs& kwargs);

}  // namespace td::optim
