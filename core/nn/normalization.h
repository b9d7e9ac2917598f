// Normalization layers of torch.nn (BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, LayerNorm, GroupNorm,
// LocalResponseNorm) over the registry ops of core/ops/norm.cpp, with PyTorch 1.13's defaults, input checks,
// reprs and buffer names (running_mean, running_var, num_batches_tracked), so state_dicts interchange.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/nn/module.h"

namespace td::nn {

/// The batch and instance norm layers' shared state (torch.nn.modules.batchnorm._NormBase): affine weight
/// (ones) and bias (zeros), and with track_running_stats the buffers running_mean (zeros), running_var (ones)
/// and num_batches_tracked (int64 0). `momentum` nullopt is PyTorch's None: a cumulative moving average.
class NormBase : public Module {
 public:
  /// Zeroes running_mean and num_batches_tracked, fills running_var with ones.
  void reset_running_stats();
  /// reset_running_stats, then weight to ones and bias to zeros.
  void reset_parameters();
  std::string extra_repr() const override;

  int64_t num_features;
  double eps;
  std::optional<double> momentum;
  bool affine, track_running_stats;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 protected:
  NormBase(std::string type_name, int64_t num_features, double eps, std::optional<double> momentum,
           bool affine, bool track_running_stats, TensorOptions options);
};

/// Normalizes each channel by the batch's statistics in training (updating the running ones) and by the
/// running statistics in eval mode (nn.BatchNorm1d/2d/3d: `dims` 1, 2 or 3).
class BatchNormNd : public NormBase {
 public:
  BatchNormNd(size_t dims, int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
              bool affine = true, bool track_running_stats = true, TensorOptions options = {});
  Tensor forward(const Tensor& input) override;

 private:
  size_t dims_;
};

/// BatchNorm over [N, C] or [N, C, L] (nn.BatchNorm1d).
class BatchNorm1d : public BatchNormNd {
 public:
  explicit BatchNorm1d(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                       bool affine = true, bool track_running_stats = true, TensorOptions options = {})
      : BatchNormNd(1, num_features, eps, momentum, affine, track_running_stats, options) {}
};
/// BatchNorm over [N, C, H, W] (nn.BatchNorm2d).
class BatchNorm2d : public BatchNormNd {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                       bool affine = true, bool track_running_stats = true, TensorOptions options = {})
      : BatchNormNd(2, num_features, eps, momentum, affine, track_running_stats, options) {}
};
/// BatchNorm over [N, C, D, H, W] (nn.BatchNorm3d).
class BatchNorm3d : public BatchNormNd {
 public:
  explicit BatchNorm3d(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                       bool affine = true, bool track_running_stats = true, TensorOptions options = {})
      : BatchNormNd(3, num_features, eps, momentum, affine, track_running_stats, options) {}
};

/// Normalizes each (sample, channel) plane by its own statistics (nn.InstanceNorm1d/2d/3d); takes unbatched
/// input too. With track_running_stats, eval mode uses the running statistics.
class InstanceNormNd : public NormBase {
 public:
  InstanceNormNd(size_t dims, int64_t num_features, double eps = 1e-5, double momentum = 0.1,
                 bool affine = false, bool track_running_stats = false, TensorOptions options = {});
  Tensor forward(const Tensor& input) override;

 private:
  size_t dims_;
};

/// InstanceNorm over [N, C, L] or [C, L] (nn.InstanceNorm1d).
class InstanceNorm1d : public InstanceNormNd {
 public:
  explicit InstanceNorm1d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = false,
                          bool track_running_stats = false, TensorOptions options = {})
      : InstanceNormNd(1, num_features, eps, momentum, affine, track_running_stats, options) {}
};
/// InstanceNorm over [N, C, H, W] or [C, H, W] (nn.InstanceNorm2d).
class InstanceNorm2d : public InstanceNormNd {
 public:
  explicit InstanceNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = false,
                          bool track_running_stats = false, TensorOptions options = {})
      : InstanceNormNd(2, num_features, eps, momentum, affine, track_running_stats, options) {}
};
/// InstanceNorm over [N, C, D, H, W] or [C, D, H, W] (nn.InstanceNorm3d).
class InstanceNorm3d : public InstanceNormNd {
 public:
  explicit InstanceNorm3d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = false,
                          bool track_running_stats = false, TensorOptions options = {})
      : InstanceNormNd(3, num_features, eps, momentum, affine, track_running_stats, options) {}
};

/// Normalizes over the trailing normalized_shape dims, with an elementwise weight and bias (nn.LayerNorm).
class LayerNorm : public Module {
 public:
  explicit LayerNorm(std::vector<int64_t> normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     TensorOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  void reset_parameters();

  std::vector<int64_t> normalized_shape;
  double eps;
  bool elementwise_affine;
  Tensor weight, bias;
};

/// Normalizes groups of channels per sample, with a per-channel weight and bias (nn.GroupNorm).
class GroupNorm : public Module {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true,
            TensorOptions options = {});
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  void reset_parameters();

  int64_t num_groups, num_channels;
  double eps;
  bool affine;
  Tensor weight, bias;
};

/// Divides by a power of the mean square over `size` neighbouring channels (nn.LocalResponseNorm).
class LocalResponseNorm : public Module {
 public:
  explicit LocalResponseNorm(int64_t size, double alpha = 1e-4, double beta = 0.75, double k = 1.0);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;

  int64_t size;
  double alpha, beta, k;
};

}  // namespace td::nn
