// td::vision::ops: torchvision.ops' box utilities and region pooling, written in tensor ops. roi_align and
// roi_pool gather the input at places computed on the host from the boxes, so they differentiate with respect
// to the input (as torchvision's kernels do) but not the boxes.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace td::vision::ops {

/// Areas of boxes [N, 4] in (x1, y1, x2, y2) form (torchvision.ops.box_area); integer boxes other than int32
/// and int64 are widened to int64, float16/bfloat16 to float32.
Tensor box_area(const Tensor& boxes);
/// Intersection over union of every pair of boxes [N, 4] and [M, 4]: [N, M] (torchvision.ops.box_iou).
Tensor box_iou(const Tensor& boxes1, const Tensor& boxes2);
/// Greedy non-maximum suppression: visits boxes by decreasing score (stable for ties), keeps one and drops
/// the later ones whose IoU with it exceeds iou_threshold; the kept indices, int64, by decreasing score
/// (torchvision.ops.nms).
Tensor nms(const Tensor& boxes, const Tensor& scores, double iou_threshold);
/// nms within each category idxs [N] (boxes of different categories never suppress each other), the kept
/// indices by decreasing score (torchvision.ops.batched_nms).
Tensor batched_nms(const Tensor& boxes, const Tensor& scores, const Tensor& idxs, double iou_threshold);

/// Average of bilinear samples over each of output_size bins of each region (torchvision.ops.roi_align).
/// input [N, C, H, W]; boxes [K, 5] rows (batch index, x1, y1, x2, y2) in input coordinates / spatial_scale;
/// sampling_ratio samples per bin side, or -1 for ceil(roi size / output size); aligned shifts by half a
/// pixel. Returns [K, C, output_h, output_w].
Tensor roi_align(const Tensor& input, const Tensor& boxes, std::vector<int64_t> output_size,
                 double spatial_scale = 1.0, int64_t sampling_ratio = -1, bool aligned = false);
/// roi_align with one [L_i, 4] box tensor per image.
Tensor roi_align(const Tensor& input, const std::vector<Tensor>& boxes, std::vector<int64_t> output_size,
                 double spatial_scale = 1.0, int64_t sampling_ratio = -1, bool aligned = false);
/// Max over each of output_size bins of each region, rounded to whole pixels (torchvision.ops.roi_pool); an
/// empty bin gives 0.
Tensor roi_pool(const Tensor& input, const Tensor& boxes, std::vector<int64_t> output_size,
                double spatial_scale = 1.0);
/// roi_pool with one [L_i, 4] box tensor per image.
Tensor roi_pool(const Tensor& input, const std::vector<Tensor>& boxes, std::vector<int64_t> output_size,
                double spatial_scale = 1.0);

}  // namespace td::vision::ops
