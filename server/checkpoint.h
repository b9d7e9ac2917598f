// Checkpoint files of server-held state: where a checkpoint path may point (inside the user's folder of the
// data directory, nowhere else), and an optimizer's or lr scheduler's state as named tensors plus JSON
// metadata in a safetensors file (torch.save of their state_dicts, in a format PyTorch can read back).
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "core/serialize.h"

namespace td::optim {
class Optimizer;
class LRScheduler;
}  // namespace td::optim

namespace td::server {

/// The file `path` names in `data_dir`/`user`. INVALID_ARGUMENT for an empty or absolute path, a "." or ".."
/// component, or a character other than letters, digits, '.', '_', '-' and the '/' between components;
/// PERMISSION_DENIED if a symbolic link leads outside the user's folder. With `create`, makes the folders.
std::filesystem::path checkpoint_file(const std::string& data_dir, const std::string& user, const std::string& path,
                                      bool create);

/// Adds an optimizer's state_dict: its tensors as "<name>.state.<index>.<key>[.<i>]", the rest (groups,
/// numbers) as JSON in metadata[name].
void save_optimizer(const optim::Optimizer& optimizer, const std::string& name, NamedTensors& tensors,
                    std::map<std::string, std::string>& metadata);
/// optimizer.load_state_dict from what save_optimizer wrote (PyTorch's errors for mismatched groups).
void load_optimizer(optim::Optimizer& optimizer, const std::string& name, const std::map<std::string, Tensor>& tensors,
                    const std::map<std::string, std::string>& metadata);
/// A scheduler's state_dict as JSON in metadata[name], and back.
void save_scheduler(const optim::LRScheduler& scheduler, const std::string& name,
                    std::map<std::string, std::string>& metadata);
void load_scheduler(optim::LRScheduler& scheduler, const std::string& name,
                    const std::map<std::string, std::string>& metadata);

}  // namespace td::server
