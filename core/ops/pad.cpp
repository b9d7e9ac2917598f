// Padding, Einstein summation and repetition: pad, einsum, repeat_interleave. All are composites, so their
// gradients come from the ops they use: constant padding crops with narrow and joins constant blocks with
// cat; reflect, replicate and circular padding are one index_select per padded dim over an index computed on
// the host (its gradient is an index_add of the incoming gradient: every output position sends its gradient
// back to the input element it copied); einsum is diagonal/permute/sum and one bmm per pair of operands;
// repeat_interleave is an index_select.
#include <algorithm>
#include <array>
#include <deque>
#include <optional>

#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

namespace {

// ---- pad ----

enum class PadMode { kConstant, kReflect, kReplicate, kCircular };

PadMode parse_pad_mode(const std::string& mode) {
  if (mode == "constant") return PadMode::kConstant;
  if (mode == "reflect") return PadMode::kReflect;
  if (mode == "replicate") return PadMode::kReplicate;
  if (mode == "circular") return PadMode::kCircular;
  throw Error(ErrorCode::kUnimplemented, str("[pad] Unrecognised padding mode ", mode));
}

// PyTorch's legacy tensor type, as its older shape errors print it: "torch.FloatTensor",
// "torch.cuda.LongTensor".
std::string legacy_type(const Tensor& t) {
  std::string_view name = scalar_type_name(t.dtype());
  return str("torch.", t.device().is_cuda() ? "cuda." : "", name, "Tensor");
}

// (left, right) padding of dim d of an ndim-dim tensor: pad lists pairs from the last dim backwards.
std::pair<int64_t, int64_t> pads_of(const std::vector<int64_t>& pad, int64_t ndim, int64_t d) {
  size_t k = static_cast<size_t>(ndim - 1 - d);
  return {pad[2 * k], pad[2 * k + 1]};
}

// PyTorch's constant_pad_nd: negative pads crop first (with narrow's checks, in dim order), positive pads
// add blocks of value.
Tensor constant_pad(const Tensor& x, const std::vector<int64_t>& pad, const Scalar& value) {
  const int64_t ndim = x.dim(), first = ndim - static_cast<int64_t>(pad.size() / 2);
  Tensor c = x;
  bool grows = false;
  for (int64_t d = first; d < ndim; ++d) {
    auto [l, r] = pads_of(pad, ndim, d);
    if (l < 0) {
      int64_t size = c.size(d), start = -l;
      if (start != size) start = wrap_dim("pad", start, size);
      c = c.narrow(d, start, size - start);
    }
    if (r < 0) {
      int64_t size = c.size(d), length = size + r;
      TD_CHECK_ARG(length >= 0, "[pad] start (0) + length (", length, ") exceeds dimension size (", size,
                   ").");
      c = c.narrow(d, 0, length);
    }
    grows = grows || l > 0 || r > 0;
  }
  if (!grows) return c.clone();
  for (int64_t d = first; d < ndim; ++d) {
    auto [l, r] = pads_of(pad, ndim, d);
    TD_CHECK_ARG(x.size(d) + l + r > 0, "[pad] The input size ", x.size(d), ", plus negative padding ", l,
                 " and ", r, " resulted in a negative output size, which is invalid. Check dimension ", d,
                 " of your input.");
  }
  for (int64_t d = first; d < ndim; ++d) {
    auto [l, r] = pads_of(pad, ndim, d);
    if (l <= 0 && r <= 0) continue;
    std::vector<Tensor> parts;
    auto block = [&](int64_t n) {
      auto shape = c.shape();
      shape[static_cast<size_t>(d)] = n;
      return full(std::move(shape), value, {x.dtype(), x.device()});
    };
    if (l > 0) parts.push_back(block(l));
    parts.push_back(c);
    if (r > 0) parts.push_back(block(r));
    c = Tensor::cat(std::move(parts), d);
  }
  return c;
}

// The checks of PyTorch 1.13's reflection_padNd / replication_padNd, in its order and words; k is the number
// of padded dims (the last k).
void check_reflect_replicate(const Tensor& x, const std::vector<int64_t>& pad, PadMode mode) {
  const int64_t ndim = x.dim(), k = static_cast<int64_t>(pad.size() / 2);
  const bool batch = ndim == k + 2;
  const bool reflect = mode == PadMode::kReflect;
  if (reflect && k < 3) {
    // reflection_pad1d/2d: the padded dims, and the channels in batch mode, must be non-empty.
    bool valid = true;
    for (int64_t d = batch ? 1 : ndim - k; d < ndim; ++d) valid = valid && x.size(d) != 0;
    std::string sizes;
    for (int64_t d = 0; d < ndim; ++d) sizes += (d ? "," : "") + std::to_string(x.size(d));
    TD_CHECK_ARG(valid, "[pad] ", k + 1, "D or ", k + 2,
                 "D (batch mode) tensor expected for input, but got: [ ", legacy_type(x), "{", sizes, "} ]");
  } else {
    bool valid = true;
    for (int64_t d = batch ? 1 : 0; d < ndim; ++d) valid = valid && x.size(d) != 0;
    TD_CHECK_ARG(valid, "[pad] Expected ", k + 1, "D or ", k + 2,
                 "D (batch mode) tensor with possibly 0 batch size "
                 "and other non-zero dimensions for input, but got: ",
                 shape_str(x.sizes()));
  }
  // Sizes by PyTorch's names: W is the last dim, then H, then D.
  std::array<int64_t, 3> in{}, out{};
  for (int64_t p = 0; p < k; ++p) {
    int64_t d = ndim - 1 - p, l = pad[2 * p], r = pad[2 * p + 1];
    in[p] = x.size(d);
    out[p] = in[p] + l + r;
    if (reflect) {
      std::string input = k == 2 ? std::to_string(ndim) : shape_str(x.sizes());  // 2d prints the rank
      TD_CHECK_ARG(l < in[p] && r < in[p], "[pad] Argument #", 4 + 2 * p,
                   ": Padding size should be less than the "
                   "corresponding input dimension, but got: padding (",
                   l, ", ", r, ") at dimension ", d, " of input ", input);
    }
  }
  // PyTorch 1.13 refuses an empty output only when every padded dim is empty (2d and 3d), in these words.
  bool all_empty = std::all_of(out.begin(), out.begin() + k, [](int64_t s) { return s < 1; });
  if (k == 1) {
    TD_CHECK_ARG(out[0] >= 1, "[pad] ", reflect ? "2input (W: " : "input (W: ", in[0],
                 reflect ? ")is" : ") is", " too small. Calculated output W: ", out[0]);
  } else if (k == 2) {
    TD_CHECK_ARG(!all_empty, "[pad] input (H: ", in[1], ", W: ", in[0], reflect ? ")is" : " ) is",
                 " too small. Calculated output H: ", out[1], " W: ", out[0]);
  } else {
    TD_CHECK_ARG(!all_empty, "[pad] input (D: ", in[2], " H: ", in[1], ", W: ", in[0],
                 ") is too small. Calculated output D: ", out[2], " H: ", out[1], " W: ", out[0]);
  }
  auto shape = x.shape();
  for (int64_t p = 0; p < k; ++p) shape[static_cast<size_t>(ndim - 1 - p)] = out[p];
  for (int64_t p = 0; p < k; ++p) {
    TD_CHECK_ARG(out[p] >= 0, "[pad] Trying to create tensor with negative dimension ", out[p], ": ",
                 shape_str(shape));
  }
  const std::string kernel = str(reflect ? "reflection_pad" : "replication_pad", k, "d",
                                 !reflect || k == 3 ? (x.device().is_cuda() ? "_cuda" : "_cpu") : "");
  TD_CHECK_ARG(is_floating(x.dtype()) || is_complex(x.dtype()), "[pad] \"", kernel, "\" not implemented for '",
               dtype_name(x.dtype()), "'");
}

// PyTorch 1.13's _pad_circular checks. It also needs each positive pad to fit in what is left after the
// negative pads crop (else PyTorch copies from memory it never wrote); that case is refused here too.
void check_circular(const Tensor& x, const std::vector<int64_t>& pad) {
  const int64_t ndim = x.dim(), k = static_cast<int64_t>(pad.size() / 2);
  TD_CHECK_ARG(k + 2 == ndim, "[pad] Invalid padding size, expected ", 2 * (ndim - 2), " but got ",
               pad.size());
  for (int64_t d = ndim - k; d < ndim; ++d) {
    auto [l, r] = pads_of(pad, ndim, d);
    int64_t size = x.size(d);
    TD_CHECK_ARG(l <= size && r <= size, "[pad] Padding value causes wrapping around more than once.");
    TD_CHECK_ARG(size + l + r >= 0, "[pad] Negative padding value is resulting in an empty dimension");
    int64_t kept = size + std::min<int64_t>(l, 0) + std::min<int64_t>(r, 0);
    TD_CHECK_ARG(std::max<int64_t>(l, 0) <= kept && std::max<int64_t>(r, 0) <= kept,
                 "[pad] Padding value causes wrapping around more than once.");
  }
}

// Which input position output position j of a padded dim copies: i = j - left, mirrored (reflect), clamped
// (replicate) or wrapped around the part the negative pads keep (circular). The checks above keep every
// result inside [0, size).
std::vector<int64_t> pad_index(PadMode mode, int64_t size, int64_t l, int64_t r) {
  std::vector<int64_t> idx(static_cast<size_t>(std::max<int64_t>(size + l + r, 0)));
  const int64_t crop_l = std::max<int64_t>(-l, 0), kept = size - crop_l - std::max<int64_t>(-r, 0);
  const int64_t shift = std::max<int64_t>(l, 0);
  for (int64_t j = 0; j < static_cast<int64_t>(idx.size()); ++j) {
    int64_t i = j - l;
    switch (mode) {
      case PadMode::kReflect:
        i = i < 0 ? -i : i >= size ? 2 * (size - 1) - i : i;
        break;
      case PadMode::kReplicate:
        i = std::clamp<int64_t>(i, 0, size - 1);
        break;
      case PadMode::kCircular:
        i = crop_l + ((j - shift) % kept + kept) % kept;
        break;
      case PadMode::kConstant:
        break;
    }
    idx[static_cast<size_t>(j)] = i;
  }
  return idx;
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& pad, const std::string& mode_name,
           std::optional<double> value) {
  PadMode mode = parse_pad_mode(mode_name);
  TD_CHECK_ARG(pad.size() % 2 == 0, "[pad] Padding length must be divisible by 2");
  TD_CHECK_ARG(static_cast<int64_t>(pad.size()) <= 2 * x.dim(), "[pad] Padding length too large");
  if (mode == PadMode::kConstant) return constant_pad(x, pad, value.value_or(0.0));
  TD_CHECK_ARG(!value || *value == 0, "[pad] Padding mode \"", mode_name,
               "\" doesn't take in value argument");
  // PyTorch 1.13 pads 1, 2 or 3 trailing dims of a tensor with one or two more dims (unbatched or batched).
  const int64_t k = static_cast<int64_t>(pad.size() / 2);
  TD_CHECK(k >= 1 && k <= 3 && (x.dim() == k + 1 || x.dim() == k + 2), ErrorCode::kUnimplemented,
           "[pad] Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now");
  if (mode == PadMode::kCircular) {
    check_circular(x, pad);
  } else {
    check_reflect_replicate(x, pad, mode);
  }
  Tensor out = x;
  bool copied = false;
  for (int64_t d = x.dim() - k; d < x.dim(); ++d) {
    auto [l, r] = pads_of(pad, x.dim(), d);
    if (l == 0 && r == 0) continue;
    std::vector<int64_t> idx = pad_index(mode, x.size(d), l, r);
    int64_t n = static_cast<int64_t>(idx.size());
    out = out.index_select(d, tensor(idx, {n}, x.device()));
    copied = true;
  }
  return copied ? out : x.clone();
}

// ---- einsum ----

constexpr int kNumLabels = 52;  // A-Z then a-z, PyTorch's order for the implicit output
constexpr int kEllipsis = kNumLabels;

bool is_label(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
int label_index(char c) {
  return c >= 'a' ? c - 'a' + 26 : c - 'A';
}
char label_char(int i) {
  return static_cast<char>(i < 26 ? 'A' + i : 'a' + i - 26);
}

// a * b summed over sum_dims (kept as size 1), every other dim broadcast; a and b have the same rank. One
// bmm: dims both operands have (batch), dims of a only, dims of b only and summed dims each flatten to one.
Tensor sum_product(const Tensor& a, const Tensor& b, const std::vector<int64_t>& sum_dims) {
  if (sum_dims.empty()) return a.mul(b);  // as PyTorch: no contraction is a broadcasting product
  TD_CHECK_ARG(a.dtype() == b.dtype(), "[einsum] expected scalar type ", dtype_name(a.dtype()), " but found ",
               dtype_name(b.dtype()));
  TD_CHECK_ARG(a.dtype() != DType::kBool, "[einsum] \"bmm\" not implemented for 'bool'");
  std::vector<int64_t> both, only_a, only_b;
  int64_t nb = 1, na = 1, nbb = 1, ns = 1;
  for (int64_t d = 0; d < a.dim(); ++d) {
    if (std::find(sum_dims.begin(), sum_dims.end(), d) != sum_dims.end()) {
      ns *= a.size(d);
    } else if (a.size(d) == b.size(d)) {
      both.push_back(d);
      nb *= a.size(d);
    } else if (b.size(d) == 1) {
      only_a.push_back(d);
      na *= a.size(d);
    } else {
      only_b.push_back(d);
      nbb *= b.size(d);
    }
  }
  auto join = [](std::initializer_list<const std::vector<int64_t>*> parts) {
    std::vector<int64_t> out;
    for (const auto* p : parts) out.insert(out.end(), p->begin(), p->end());
    return out;
  };
  // Each operand has size 1 in the dims only the other one has: they ride along at the end.
  Tensor a3 = a.permute(join({&both, &only_a, &sum_dims, &only_b})).reshape({nb, na, ns});
  Tensor b3 = b.permute(join({&both, &sum_dims, &only_b, &only_a})).reshape({nb, ns, nbb});
  // The product comes out as [both..., only_a..., only_b...]; the summed dims return as size 1.
  std::vector<int64_t> order = join({&both, &only_a, &only_b, &sum_dims}), shape;
  for (int64_t d : order) {
    bool summed = std::find(sum_dims.begin(), sum_dims.end(), d) != sum_dims.end();
    shape.push_back(summed ? 1 : std::max(a.size(d), b.size(d)));
  }
  std::vector<int64_t> inverse(order.size());
  for (size_t i = 0; i < order.size(); ++i) inverse[static_cast<size_t>(order[i])] = static_cast<int64_t>(i);
  return a3.bmm(b3).reshape(shape).permute(inverse);
}

Tensor einsum(const std::string& equation, const std::vector<Tensor>& operands,
              const std::optional<std::vector<int64_t>>& path) {
  TD_CHECK_ARG(!operands.empty(), "[einsum] einsum(): must provide at least one operand");
  const size_t num_ops = operands.size();
  const size_t arrow = equation.find("->");
  const std::string lhs = equation.substr(0, arrow);

  // Labels of each operand, kEllipsis standing for "...".
  std::vector<std::vector<int>> op_labels(num_ops);
  size_t cur = 0;
  bool found_ell = false;
  for (size_t i = 0; i < lhs.size(); ++i) {
    const char c = lhs[i];
    if (c == ' ') continue;
    if (c == '.') {
      TD_CHECK_ARG(!found_ell, "[einsum] einsum(): found '.' for operand ", cur,
                   " for which an ellipsis was already found");
      TD_CHECK_ARG(i + 2 < lhs.size() && lhs[++i] == '.' && lhs[++i] == '.',
                   "[einsum] einsum(): found '.' for operand ", cur, " that is not part of any ellipsis");
      op_labels[cur].push_back(kEllipsis);
      found_ell = true;
    } else if (c == ',') {
      ++cur;
      TD_CHECK_ARG(cur < num_ops,
                   "[einsum] einsum(): fewer operands were provided than specified in the equation");
      found_ell = false;
    } else {
      TD_CHECK_ARG(is_label(c), "[einsum] einsum(): invalid subscript given at index ", i,
                   " in the equation string, subscripts must be in [a-zA-Z]");
      op_labels[cur].push_back(label_index(c));
    }
  }
  TD_CHECK_ARG(cur == num_ops - 1,
               "[einsum] einsum(): more operands were provided than specified in the equation");

  // How often each label occurs, and the most dims any ellipsis covers.
  std::array<int64_t, kNumLabels> label_count{};
  int64_t ell_dims = 0;
  for (size_t i = 0; i < num_ops; ++i) {
    const int64_t ndim = operands[i].dim();
    int64_t nlabels = static_cast<int64_t>(op_labels[i].size());
    bool has_ell = false;
    for (int s : op_labels[i]) {
      if (s == kEllipsis) {
        has_ell = true;
        --nlabels;
      } else {
        ++label_count[static_cast<size_t>(s)];
      }
    }
    if (has_ell) {
      TD_CHECK_ARG(nlabels <= ndim, "[einsum] einsum(): the number of subscripts in the equation (", nlabels,
                   ") is more than the number of dimensions (", ndim, ") for operand ", i);
      ell_dims = std::max(ell_dims, ndim - nlabels);
    } else {
      TD_CHECK_ARG(nlabels == ndim, "[einsum] einsum(): the number of subscripts in the equation (", nlabels,
                   ") does not match the number of dimensions (", ndim, ") for operand ", i,
                   " and no ellipsis was given");
    }
  }

  // Every operand is aligned to [output dims..., contracted dims...]: the position of each label there.
  std::array<int64_t, kNumLabels> label_pos;
  label_pos.fill(-1);
  int64_t next = 0, ell_pos = 0;
  bool out_has_ell = false;
  if (arrow == std::string::npos) {
    // Implicit output: the ellipsis dims, then the labels seen once, in alphabetical order.
    next = ell_dims;
    out_has_ell = true;
    for (int s = 0; s < kNumLabels; ++s) {
      if (label_count[static_cast<size_t>(s)] == 1) label_pos[static_cast<size_t>(s)] = next++;
    }
  } else {
    const std::string rhs = equation.substr(arrow + 2);
    for (size_t i = 0; i < rhs.size(); ++i) {
      const char c = rhs[i];
      if (c == ' ') continue;
      if (c == '.') {
        TD_CHECK_ARG(!out_has_ell,
                     "[einsum] einsum(): found '.' for output but an ellipsis (...) was already found");
        TD_CHECK_ARG(i + 2 < rhs.size() && rhs[++i] == '.' && rhs[++i] == '.',
                     "[einsum] einsum(): found '.' for output that is not part of any ellipsis (...)");
        ell_pos = next;
        next += ell_dims;
        out_has_ell = true;
        continue;
      }
      TD_CHECK_ARG(is_label(c), "[einsum] einsum(): invalid subscript given at index ", lhs.size() + 2 + i,
                   " in the equation string, subscripts must be in [a-zA-Z]");
      const auto s = static_cast<size_t>(label_index(c));
      TD_CHECK_ARG(label_count[s] > 0 && label_pos[s] == -1, "[einsum] einsum(): output subscript ", c,
                   label_pos[s] > -1 ? " appears more than once in the output"
                                     : " does not appear in the equation for any input operand");
      label_pos[s] = next++;
    }
  }
  const int64_t out_dims = next;
  if (!out_has_ell) {
    ell_pos = next;
    next += ell_dims;
  }
  for (size_t s = 0; s < kNumLabels; ++s) {
    if (label_count[s] > 0 && label_pos[s] == -1) label_pos[s] = next++;
  }
  const int64_t total = next;

  // Align: check sizes, take diagonals for repeated labels, add size-1 dims for labels an operand lacks, and
  // count how many operands have each dim larger than 1 (what decides when a dim can be summed out).
  std::array<int64_t, kNumLabels> label_size;
  label_size.fill(1);
  std::vector<int64_t> ell_size(static_cast<size_t>(ell_dims), 1), dim_count(static_cast<size_t>(total), 0);
  std::deque<Tensor> ops;
  for (size_t i = 0; i < num_ops; ++i) {
    Tensor op = operands[i];
    std::vector<int64_t> perm(static_cast<size_t>(total), -1);
    int64_t dim = 0;
    for (int s : op_labels[i]) {
      if (s == kEllipsis) {
        const int64_t covered = operands[i].dim() - (static_cast<int64_t>(op_labels[i].size()) - 1);
        for (int64_t j = ell_dims - covered; j < ell_dims; ++j) {
          const int64_t size = op.size(dim);
          auto& seen = ell_size[static_cast<size_t>(j)];
          if (size != 1) {
            TD_CHECK_ARG(seen == 1 || seen == size, "[einsum] einsum(): dimension ", j,
                         " covered by ellipsis in operand ", i, "has size ", size,
                         " which does not broadcast with previously seen ellipsis with size ", seen,
                         " for the respective dimension");
            seen = size;
            ++dim_count[static_cast<size_t>(ell_pos + j)];
          }
          perm[static_cast<size_t>(ell_pos + j)] = dim++;
        }
        continue;
      }
      const auto pos = static_cast<size_t>(label_pos[static_cast<size_t>(s)]);
      if (perm[pos] == -1) {
        const int64_t size = op.size(dim);
        auto& seen = label_size[static_cast<size_t>(s)];
        if (size != 1) {
          TD_CHECK_ARG(seen == 1 || seen == size, "[einsum] einsum(): subscript ", label_char(s),
                       " has size ", size, " for operand ", i,
                       " which does not broadcast with previously seen size ", seen);
          seen = size;
          ++dim_count[pos];
        }
        perm[pos] = dim++;
      } else {
        // A repeated label within one operand: keep only its diagonal, where the first occurrence was.
        const int64_t prev = perm[pos];
        TD_CHECK_ARG(op.size(dim) == op.size(prev), "[einsum] einsum(): subscript ", label_char(s),
                     " is repeated for operand ", i, " but the sizes don't match, ", op.size(dim),
                     " != ", op.size(prev));
        op = op.diagonal(0, prev, dim).movedim(-1, prev);
      }
    }
    for (auto& p : perm) {
      if (p == -1) {
        op = op.unsqueeze(dim);
        p = dim++;
      }
    }
    ops.push_back(op.permute(perm));
  }

  if (num_ops == 1) {
    Tensor result = ops.front();
    if (total == out_dims) return result;
    std::vector<int64_t> dims;
    for (int64_t d = out_dims; d < total; ++d) dims.push_back(d);
    return result.sum(dims);
  }

  // Contract left to right, or in the order of path: pairs of positions in the list of operands left, whose
  // product joins the end of the list (opt_einsum's convention). A contracted dim is summed in the pair where
  // the last two operands that have it meet, or beforehand in the one operand that alone still has it.
  if (path) {
    TD_CHECK_ARG(path->size() == 2 * (num_ops - 1), "[einsum] path must list ", num_ops - 1,
                 " pairs of operands to contract, got ", path->size(), " positions");
  }
  for (size_t step = 0; ops.size() > 1; ++step) {
    Tensor a, b;
    if (path) {
      int64_t i = (*path)[2 * step], j = (*path)[2 * step + 1], n = static_cast<int64_t>(ops.size());
      TD_CHECK_ARG(i >= 0 && j >= 0 && i < n && j < n && i != j, "[einsum] path step ", step,
                   " names operands (", i, ", ", j, ") of ", n, " left");
      a = ops[static_cast<size_t>(i)];
      b = ops[static_cast<size_t>(j)];
      ops.erase(ops.begin() + std::max(i, j));
      ops.erase(ops.begin() + std::min(i, j));
    } else {
      a = ops[0];
      b = ops[1];
      ops.pop_front();
      ops.pop_front();
    }
    std::vector<int64_t> sum_dims, a_only, b_only;
    for (int64_t d = out_dims; d < total; ++d) {
      auto& count = dim_count[static_cast<size_t>(d)];
      if (a.size(d) != 1 && b.size(d) != 1) {
        if (--count == 1) {
          sum_dims.push_back(d);
          count = 0;
        }
      } else if (count == 1) {
        if (a.size(d) != 1) {
          a_only.push_back(d);
          count = 0;
        } else if (b.size(d) != 1) {
          b_only.push_back(d);
          count = 0;
        }
      }
    }
    if (!a_only.empty()) a = a.sum(a_only, /*keepdim=*/true);
    if (!b_only.empty()) b = b.sum(b_only, /*keepdim=*/true);
    Tensor product = sum_product(a, b, sum_dims);
    if (path) {
      ops.push_back(product);
    } else {
      ops.push_front(product);
    }
  }
  Tensor result = ops.front();
  if (total == out_dims) return result;
  // Every contracted dim has size 1 by now.
  auto shape = result.shape();
  shape.resize(static_cast<size_t>(out_dims));
  return result.reshape(shape);
}

// ---- repeat_interleave ----

// i repeated repeats[i] times, in repeats' dtype and on its device.
Tensor repeat_counts(const Tensor& repeats, std::optional<int64_t> output_size) {
  TD_CHECK_ARG(repeats.dim() == 1, "[repeat_interleave] repeat_interleave only accept 1D vector as repeat");
  TD_CHECK_ARG(repeats.dtype() == DType::kInt64 || repeats.dtype() == DType::kInt32,
               "[repeat_interleave] \"repeat_interleave_cpu\" not implemented for '",
               dtype_name(repeats.dtype()), "'");
  std::vector<int64_t> counts = repeats.to(DType::kInt64).to("cpu").to_vector<int64_t>();
  int64_t total = 0;
  for (int64_t c : counts) {
    TD_CHECK_ARG(c >= 0, "[repeat_interleave] repeats can not be negative");
    total += c;
  }
  TD_CHECK_ARG(!output_size || *output_size == total,
               "[repeat_interleave] allocated size does not match required size");
  std::vector<int64_t> idx;
  idx.reserve(static_cast<size_t>(total));
  for (size_t i = 0; i < counts.size(); ++i)
    idx.insert(idx.end(), static_cast<size_t>(counts[i]), static_cast<int64_t>(i));
  return ops::cast(tensor(idx, {total}, repeats.device()), repeats.dtype());
}

Tensor repeat_interleave(const Tensor& self, const Tensor& repeats, std::optional<int64_t> dim,
                         std::optional<int64_t> output_size) {
  const Tensor both[] = {self, repeats};
  Device device = ops::common_device("repeat_interleave", both);
  Tensor input = self;
  int64_t d = 0;
  if (!dim) {
    input = self.flatten();
  } else {
    TD_CHECK(self.dim() > 0, ErrorCode::kOutOfRange, "[repeat_interleave] Dimension specified as ", *dim,
             " but tensor has no dimensions");
    d = wrap_dim("repeat_interleave", *dim, self.dim());
  }
  Tensor counts = repeats;
  if (repeats.dim() == 0 || (repeats.dim() == 1 && repeats.size(0) == 1)) {
    counts = repeats.reshape({1}).expand({input.size(d)});
  } else {
    TD_CHECK_ARG(repeats.dim() == 1, "[repeat_interleave] repeats must be 0-dim or 1-dim tensor");
    TD_CHECK_ARG(repeats.size(0) == input.size(d),
                 "[repeat_interleave] repeats must have the same size as input along dim (repeats ",
                 shape_str(repeats.sizes()), ", input ", shape_str(input.sizes()), ", dim ", d, ")");
  }
  Tensor index = repeat_counts(counts, output_size);
  return input.index_select(d, ops::on_device(ops::cast(index, DType::kInt64), device));
}

std::optional<int64_t> optional_int(const Args& a, size_t i) {
  return a.is_none(i) ? std::nullopt : std::optional<int64_t>(a.int_at(i));
}

}  // namespace

void register_pad_ops(Registry& r) {
  r.def("pad(Tensor self, int[] pad, str mode=\"constant\", float? value=None) -> Tensor")
      .doc(
          "self padded by (left, right) pairs from the last dim backwards: constant (negative pads crop), "
          "reflect, replicate or circular")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        std::optional<double> value;
        if (!a.is_none(3)) value = a.float_at(3);
        return {pad(a.tensor(0), a.ints(1), a.string_at(2), value)};
      });

  r.def("einsum(str equation, Tensor[] tensors, *, int[]? path=None) -> Tensor")
      .doc(
          "sums of products of the operands over the labels of an Einstein-summation equation; path orders "
          "the pairwise contractions (default: left to right)")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {einsum(a.string_at(0), a.tensors(1), a.optional_ints(2))};
      });

  r.def("repeat_interleave(Tensor self, Tensor repeats, int? dim=None, *, int? output_size=None) -> Tensor")
      .doc(
          "each element (slice along dim; flattened when dim is None) repeated repeats (or repeats[i]) times")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {repeat_interleave(a.tensor(0), a.tensor(1), optional_int(a, 2), optional_int(a, 3))};
      });

  r.def("repeat_interleave.Tensor(Tensor repeats, *, int? output_size=None) -> Tensor")
      .doc("i repeated repeats[i] times, for a 1-d tensor of counts")
      .no_grad()
      .forward([](const Args& a) -> std::vector<Tensor> {
        return {repeat_counts(a.tensor(0), optional_int(a, 1))};
      });
}

}  // namespace td
