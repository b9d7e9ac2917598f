// torchvision.ops in tensor ops. The box utilities follow torchvision 0.14's Python; nms's greedy pass runs
// on the host over the IoU matrix (as torchvision's CPU kernel); roi_align/roi_pool compute, per region, the
// flat input positions and weights of their samples on the host, exactly as torchvision's kernels do in the
// input's float type, then gather the input rows with index_select (whose gradient, index_add, is the
// input's gradient) and reduce.
#include "vision/ops.h"

#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace td::vision::ops {

namespace {

// torchvision's _upcast: float16/bfloat16 to float32, small integers to int64, so products do not overflow.
Tensor upcast(const Tensor& t) {
  if (is_floating(t.dtype())) {
    return t.dtype() == DType::kFloat32 || t.dtype() == DType::kFloat64 ? t : t.to(DType::kFloat32);
  }
  return t.dtype() == DType::kInt32 || t.dtype() == DType::kInt64 ? t : t.to(DType::kInt64);
}

void check_boxes(const char* op, const Tensor& boxes, int64_t cols) {
  TD_CHECK_ARG(boxes.dim() == 2 && boxes.size(1) == cols, "[", op, "] boxes must be of shape [N, ", cols,
               "], got ", shape_str(boxes.sizes()));
}

Tensor column(const Tensor& boxes, int64_t i) {
  return boxes.select(1, i);
}

}  // namespace

Tensor box_area(const Tensor& boxes) {
  check_boxes("box_area", boxes, 4);
  Tensor b = upcast(boxes);
  return column(b, 2).sub(column(b, 0)).mul(column(b, 3).sub(column(b, 1)));
}

Tensor box_iou(const Tensor& boxes1, const Tensor& boxes2) {
  check_boxes("box_iou", boxes1, 4);
  check_boxes("box_iou", boxes2, 4);
  Tensor area1 = box_area(boxes1), area2 = box_area(boxes2);
  Tensor lt = boxes1.narrow(1, 0, 2).unsqueeze(1).maximum(boxes2.narrow(1, 0, 2));
  Tensor rb = boxes1.narrow(1, 2, 2).unsqueeze(1).minimum(boxes2.narrow(1, 2, 2));
  Tensor wh = upcast(rb.sub(lt)).clamp(Scalar(0));
  Tensor inter = wh.select(2, 0).mul(wh.select(2, 1));
  Tensor uni = area1.unsqueeze(1).add(area2).sub(inter);
  return inter.div(uni);
}

Tensor nms(const Tensor& boxes, const Tensor& scores, double iou_threshold) {
  check_boxes("nms", boxes, 4);
  TD_CHECK_ARG(scores.dim() == 1, "[nms] scores should be a 1d tensor, got ", scores.dim(), "D");
  TD_CHECK_ARG(boxes.size(0) == scores.size(0),
               "[nms] boxes and scores should have same number of elements in "
               "dimension 0, got ",
               boxes.size(0), " and ", scores.size(0));
  if (boxes.numel() == 0) return zeros({0}, {DType::kInt64, boxes.device()});
  Tensor order = scores.argsort(0, /*descending=*/true, /*stable=*/true);
  Tensor sorted = boxes.index_select(0, order);
  // The IoU of every pair in score order, in the boxes' float type, on the host.
  Tensor iou = box_iou(sorted, sorted).to(DType::kFloat64).to("cpu").contiguous();
  const int64_t n = boxes.size(0);
  const double* m = iou.data<double>();
  std::vector<char> suppressed(static_cast<size_t>(n), 0);
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < n; ++i) {
    if (suppressed[static_cast<size_t>(i)]) continue;
    keep.push_back(i);
    for (int64_t j = i + 1; j < n; ++j) {
      if (m[i * n + j] > iou_threshold) suppressed[static_cast<size_t>(j)] = 1;
    }
  }
  return order.index_select(0, tensor(keep, {static_cast<int64_t>(keep.size())}, order.device()));
}

Tensor batched_nms(const Tensor& boxes, const Tensor& scores, const Tensor& idxs, double iou_threshold) {
  check_boxes("batched_nms", boxes, 4);
  if (boxes.numel() == 0) return zeros({0}, {DType::kInt64, boxes.device()});
  // torchvision's coordinate trick: shift each category's boxes by a multiple of the largest coordinate so
  // boxes of different categories never overlap, then one nms.
  Tensor max_coordinate = boxes.max();
  Tensor offsets = idxs.to(boxes.dtype()).mul(max_coordinate.add(Scalar(1)));
  return nms(boxes.add(offsets.unsqueeze(1)), scores, iou_threshold);
}

namespace {

// [K, 5] rows (batch index, x1, y1, x2, y2) from one [L_i, 4] tensor per image (convert_boxes_to_roi_format).
Tensor rois_of(const char* op, const std::vector<Tensor>& boxes) {
  TD_CHECK_ARG(!boxes.empty(), "[", op, "] boxes must hold one tensor per image");
  std::vector<Tensor> parts;
  for (size_t i = 0; i < boxes.size(); ++i) {
    TD_CHECK_ARG(boxes[i].dim() == 2 && boxes[i].size(1) == 4, "[", op,
                 "] The shape of the tensor in the boxes list is not correct as List[Tensor[L, 4]]");
    Tensor id =
        full({boxes[i].size(0), 1}, Scalar(static_cast<int64_t>(i)), {boxes[i].dtype(), boxes[i].device()});
    parts.push_back(Tensor::cat({id, boxes[i]}, 1));
  }
  return Tensor::cat(parts, 0);
}

struct RoiInput {
  int64_t n, c, h, w, ph, pw;
  std::vector<double> rois;  // K x 5
  int64_t k;
};

RoiInput check_roi(const char* op, const Tensor& input, const Tensor& rois,
                   const std::vector<int64_t>& size) {
  TD_CHECK_ARG(rois.dim() == 2 && rois.size(1) == 5, "[", op,
               "] The boxes tensor shape is not correct as Tensor[K, 5]");
  TD_CHECK_ARG(input.dim() == 4, "[", op, "] input must be [N, C, H, W], got ", shape_str(input.sizes()));
  TD_CHECK_ARG(is_floating(input.dtype()), "[", op, "] input must be a float tensor, got ",
               dtype_name(input.dtype()));
  TD_CHECK_ARG(input.dtype() == rois.dtype(), "[", op,
               "] Expected tensor for input to have the same type as "
               "tensor for rois; but type ",
               dtype_name(input.dtype()), " does not equal ", dtype_name(rois.dtype()));
  TD_CHECK_ARG(size.size() == 1 || size.size() == 2, "[", op, "] output_size must be an int or (h, w)");
  RoiInput r{input.size(0),
             input.size(1),
             input.size(2),
             input.size(3),
             size[0],
             size.size() == 2 ? size[1] : size[0],
             rois.to(DType::kFloat64).to("cpu").contiguous().to_vector<double>(),
             rois.size(0)};
  TD_CHECK_ARG(r.ph > 0 && r.pw > 0, "[", op, "] output_size must be positive, got ", shape_str(size));
  for (int64_t i = 0; i < r.k; ++i) {
    const double b = r.rois[static_cast<size_t>(5 * i)];
    TD_CHECK_ARG(b >= 0 && b < static_cast<double>(r.n) && b == std::floor(b), "[", op, "] box ", i,
                 " names batch index ", b, " of an input of ", r.n, " images");
  }
  return r;
}

// The input as rows [N * H * W, C], so one index_select gathers every channel of a position.
Tensor rows_of(const Tensor& input) {
  return input.permute({0, 2, 3, 1}).reshape({input.size(0) * input.size(2) * input.size(3), input.size(1)});
}

template <class T>
void roi_align_taps(const RoiInput& r, double spatial_scale, int64_t sampling_ratio, bool aligned,
                    std::vector<int64_t>& index, std::vector<double>& weight, int64_t& taps) {
  // Every bin of every region gets the same number of taps (the largest grid's, 4 corners per sample); the
  // unused ones point at position 0 with weight 0.
  std::vector<int64_t> gh(static_cast<size_t>(r.k)), gw(static_cast<size_t>(r.k));
  taps = 1;
  auto roi = [&](int64_t i, int j) { return static_cast<T>(r.rois[static_cast<size_t>(5 * i + j)]); };
  const T offset = aligned ? T(0.5) : T(0);
  const T scale = static_cast<T>(spatial_scale);
  for (int64_t i = 0; i < r.k; ++i) {
    T rw = roi(i, 3) * scale - offset - (roi(i, 1) * scale - offset);
    T rh = roi(i, 4) * scale - offset - (roi(i, 2) * scale - offset);
    if (!aligned) rw = std::max(rw, T(1)), rh = std::max(rh, T(1));
    gh[static_cast<size_t>(i)] =
        sampling_ratio > 0 ? sampling_ratio : static_cast<int64_t>(std::ceil(rh / static_cast<T>(r.ph)));
    gw[static_cast<size_t>(i)] =
        sampling_ratio > 0 ? sampling_ratio : static_cast<int64_t>(std::ceil(rw / static_cast<T>(r.pw)));
    taps = std::max(taps, 4 * gh[static_cast<size_t>(i)] * gw[static_cast<size_t>(i)]);
  }
  index.assign(static_cast<size_t>(r.k * r.ph * r.pw * taps), 0);
  weight.assign(index.size(), 0.0);
  for (int64_t i = 0; i < r.k; ++i) {
    const auto b = static_cast<int64_t>(r.rois[static_cast<size_t>(5 * i)]);
    const T x0 = roi(i, 1) * scale - offset, y0 = roi(i, 2) * scale - offset;
    T rw = roi(i, 3) * scale - offset - x0, rh = roi(i, 4) * scale - offset - y0;
    if (!aligned) rw = std::max(rw, T(1)), rh = std::max(rh, T(1));
    const T bin_h = rh / static_cast<T>(r.ph), bin_w = rw / static_cast<T>(r.pw);
    const int64_t grid_h = gh[static_cast<size_t>(i)], grid_w = gw[static_cast<size_t>(i)];
    const T count = static_cast<T>(std::max<int64_t>(grid_h * grid_w, 1));
    for (int64_t ph = 0; ph < r.ph; ++ph) {
      for (int64_t pw = 0; pw < r.pw; ++pw) {
        size_t at = static_cast<size_t>(((i * r.ph + ph) * r.pw + pw) * taps);
        for (int64_t iy = 0; iy < grid_h; ++iy) {
          const T yy = y0 + static_cast<T>(ph) * bin_h +
                       (static_cast<T>(iy) + T(0.5)) * bin_h / static_cast<T>(grid_h);
          for (int64_t ix = 0; ix < grid_w; ++ix, at += 4) {
            T x = x0 + static_cast<T>(pw) * bin_w +
                  (static_cast<T>(ix) + T(0.5)) * bin_w / static_cast<T>(grid_w);
            T y = yy;
            // torchvision's bilinear_interpolate: outside [-1, size] contributes nothing.
            if (y < T(-1) || y > static_cast<T>(r.h) || x < T(-1) || x > static_cast<T>(r.w)) continue;
            if (y <= 0) y = 0;
            if (x <= 0) x = 0;
            int64_t y_low = static_cast<int64_t>(y), x_low = static_cast<int64_t>(x), y_high = 0, x_high = 0;
            if (y_low >= r.h - 1) {
              y_high = y_low = r.h - 1;
              y = static_cast<T>(y_low);
            } else {
              y_high = y_low + 1;
            }
            if (x_low >= r.w - 1) {
              x_high = x_low = r.w - 1;
              x = static_cast<T>(x_low);
            } else {
              x_high = x_low + 1;
            }
            const T ly = y - static_cast<T>(y_low), lx = x - static_cast<T>(x_low);
            const T hy = T(1) - ly, hx = T(1) - lx;
            const int64_t base = b * r.h * r.w;
            const int64_t pos[4] = {y_low * r.w + x_low, y_low * r.w + x_high, y_high * r.w + x_low,
                                    y_high * r.w + x_high};
            const T w[4] = {hy * hx, hy * lx, ly * hx, ly * lx};
            for (int c = 0; c < 4; ++c) {
              index[at + static_cast<size_t>(c)] = base + pos[c];
              weight[at + static_cast<size_t>(c)] = static_cast<double>(w[c] / count);
            }
          }
        }
      }
    }
  }
}

}  // namespace

Tensor roi_align(const Tensor& input, const Tensor& boxes, std::vector<int64_t> output_size,
                 double spatial_scale, int64_t sampling_ratio, bool aligned) {
  const RoiInput r = check_roi("roi_align", input, boxes, output_size);
  std::vector<int64_t> index;
  std::vector<double> weight;
  int64_t taps = 0;
  if (input.dtype() == DType::kFloat64) {
    roi_align_taps<double>(r, spatial_scale, sampling_ratio, aligned, index, weight, taps);
  } else {
    roi_align_taps<float>(r, spatial_scale, sampling_ratio, aligned, index, weight, taps);
  }
  const auto rows = static_cast<int64_t>(index.size());
  if (r.k == 0 || r.n * r.h * r.w == 0) return zeros({r.k, r.c, r.ph, r.pw}, {input.dtype(), input.device()});
  Tensor gathered = rows_of(input).index_select(0, tensor(index, {rows}, input.device()));
  Tensor w = tensor(weight, {rows, 1}, input.device()).to(input.dtype());
  return gathered.mul(w)
      .view({r.k * r.ph * r.pw, taps, r.c})
      .sum({1})
      .view({r.k, r.ph, r.pw, r.c})
      .permute({0, 3, 1, 2});
}

Tensor roi_align(const Tensor& input, const std::vector<Tensor>& boxes, std::vector<int64_t> output_size,
                 double spatial_scale, int64_t sampling_ratio, bool aligned) {
  return roi_align(input, rois_of("roi_align", boxes), std::move(output_size), spatial_scale, sampling_ratio,
                   aligned);
}

Tensor roi_pool(const Tensor& input, const Tensor& boxes, std::vector<int64_t> output_size,
                double spatial_scale) {
  const RoiInput r = check_roi("roi_pool", input, boxes, output_size);
  // Each bin's window, as torchvision's kernel computes it (in the input's float type); windows are padded to
  // the largest with the index of an extra -inf row, and an empty window gives 0.
  const bool in_double = input.dtype() == DType::kFloat64;
  const int64_t sentinel = r.n * r.h * r.w;
  std::vector<std::array<int64_t, 5>> windows;  // batch, hstart, hend, wstart, wend
  int64_t taps = 1;
  for (int64_t i = 0; i < r.k; ++i) {
    auto coord = [&](int j) {
      const double v = r.rois[static_cast<size_t>(5 * i + j)];
      return in_double ? static_cast<int64_t>(std::round(v * spatial_scale))
                       : static_cast<int64_t>(
                             std::round(static_cast<float>(v) * static_cast<float>(spatial_scale)));
    };
    const int64_t sw = coord(1), sh = coord(2), ew = coord(3), eh = coord(4);
    const int64_t rw = std::max<int64_t>(ew - sw + 1, 1), rh = std::max<int64_t>(eh - sh + 1, 1);
    const double bin_h = in_double ? static_cast<double>(rh) / static_cast<double>(r.ph)
                                   : static_cast<double>(static_cast<float>(rh) / static_cast<float>(r.ph));
    const double bin_w = in_double ? static_cast<double>(rw) / static_cast<double>(r.pw)
                                   : static_cast<double>(static_cast<float>(rw) / static_cast<float>(r.pw));
    auto edge = [&](double v, bool up) {
      if (!in_double) v = static_cast<double>(static_cast<float>(v));
      return static_cast<int64_t>(up ? std::ceil(v) : std::floor(v));
    };
    for (int64_t ph = 0; ph < r.ph; ++ph) {
      for (int64_t pw = 0; pw < r.pw; ++pw) {
        auto clip = [](int64_t v, int64_t hi) { return std::min(std::max<int64_t>(v, 0), hi); };
        const int64_t hs = clip(edge(static_cast<double>(ph) * bin_h, false) + sh, r.h);
        const int64_t he = clip(edge(static_cast<double>(ph + 1) * bin_h, true) + sh, r.h);
        const int64_t ws = clip(edge(static_cast<double>(pw) * bin_w, false) + sw, r.w);
        const int64_t we = clip(edge(static_cast<double>(pw + 1) * bin_w, true) + sw, r.w);
        windows.push_back({static_cast<int64_t>(r.rois[static_cast<size_t>(5 * i)]), hs, he, ws, we});
        taps = std::max(taps, std::max<int64_t>(he - hs, 0) * std::max<int64_t>(we - ws, 0));
      }
    }
  }
  std::vector<int64_t> index(windows.size() * static_cast<size_t>(taps), sentinel);
  std::vector<bool> empty(windows.size());
  for (size_t wi = 0; wi < windows.size(); ++wi) {
    const auto& [b, hs, he, ws, we] = windows[wi];
    empty[wi] = he <= hs || we <= ws;
    size_t at = wi * static_cast<size_t>(taps);
    for (int64_t y = hs; y < he; ++y)
      for (int64_t x = ws; x < we; ++x) index[at++] = (b * r.h + y) * r.w + x;
  }
  if (r.k == 0) return zeros({0, r.c, r.ph, r.pw}, {input.dtype(), input.device()});
  Tensor table =
      Tensor::cat({rows_of(input), full({1, r.c}, Scalar(-INFINITY), {input.dtype(), input.device()})}, 0);
  const auto bins = static_cast<int64_t>(windows.size());
  Tensor values = table.index_select(0, tensor(index, {bins * taps}, input.device())).view({bins, taps, r.c});
  Tensor best = values.max(1, false).first;
  Tensor is_empty = tensor_bool(empty, {bins, 1}, input.device());
  best = best.masked_fill(is_empty, Scalar(0));
  return best.view({r.k, r.ph, r.pw, r.c}).permute({0, 3, 1, 2});
}

Tensor roi_pool(const Tensor& input, const std::vector<Tensor>& boxes, std::vector<int64_t> output_size,
                double spatial_scale) {
  return roi_pool(input, rois_of("roi_pool", boxes), std::move(output_size), spatial_scale);
}

}  // namespace td::vision::ops
