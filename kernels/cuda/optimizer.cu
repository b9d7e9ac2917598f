// Backend::sgd_momentum_steps and adam_steps on CUDA (the single-parameter forms go through them): one launch
// for up to 96 (SGD) or 64 (Adam) parameters, where the op-by-op update takes eight (SGD) or about twenty
// (Adam) per parameter, with the per-element arithmetic of kernels/optimizer_ops.h, which the CPU runs too (no
// fused multiply-add, IEEE sqrt and division: the op-by-op values bit for bit).
#include <array>
#include <climits>
#include <span>

#include "kernels/cuda/loops.cuh"
#include "kernels/optimizer_ops.h"

namespace td::kernels::cuda {

namespace {
// Many parameters in one launch (torch.optim's foreach update): a list of tensors' pointers and sizes as the
// kernel's argument (under the classic 4 KB limit), each cut into chunks of kChunk elements, a block per
// chunk; a block finds its tensor from the first block of each.
constexpr int64_t kChunk = 4096;

template <class T, int kDepth, int kMax>
struct TensorLists {
  using Element = T;
  static constexpr int kPointers = kDepth, kCapacity = kMax;
  T* ptr[kDepth][kMax];
  int64_t n[kMax];
  int first_block[kMax + 1];
  int count;
};
// SGD's three tensors for 96 parameters and Adam's five for 64 stay under 4 KB with their constants.
template <class T>
using SgdLists = TensorLists<T, 3, 96>;
template <class T>
using AdamLists = TensorLists<T, 5, 64>;
static_assert(sizeof(SgdLists<double>) + sizeof(optim_ops::SgdConstants<double>) <= 4096);
static_assert(sizeof(AdamLists<double>) + sizeof(optim_ops::AdamConstants<double>) <= 4096);

// The tensor of block b: the last whose first block is at most b.
__device__ __forceinline__ int tensor_of(const int* first_block, int count, int b) {
  int lo = 0, hi = count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (first_block[mid] <= b) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

// The block's tensor and its chunk [begin, end).
template <class L>
__device__ __forceinline__ int chunk_of(const L& l, int64_t& begin, int64_t& end) {
  const int b = static_cast<int>(blockIdx.x), t = tensor_of(l.first_block, l.count, b);
  begin = static_cast<int64_t>(b - l.first_block[t]) * kChunk;
  end = begin + kChunk < l.n[t] ? begin + kChunk : l.n[t];
  return t;
}

template <bool kMaximize, bool kDecay, bool kNesterov, class T>
__global__ void sgd_lists_kernel(SgdLists<T> l, optim_ops::SgdConstants<T> c) {
  int64_t begin, end;
  const int t = chunk_of(l, begin, end);
  T* p = l.ptr[0][t];
  const T* g = l.ptr[1][t];
  T* m = l.ptr[2][t];
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    optim_ops::sgd_element<kMaximize, kDecay, kNesterov>(p[i], g[i], m[i], c);
  }
}

template <bool kMaximize, bool kCoupledDecay, bool kDecoupled, bool kAmsgrad, class T>
__global__ void adam_lists_kernel(AdamLists<T> l, optim_ops::AdamConstants<T> c) {
  int64_t begin, end;
  const int t = chunk_of(l, begin, end);
  T* p = l.ptr[0][t];
  const T* g = l.ptr[1][t];
  T *m1 = l.ptr[2][t], *m2 = l.ptr[3][t], *mx = l.ptr[4][t];
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    optim_ops::adam_element<kMaximize, kCoupledDecay, kDecoupled, kAmsgrad>(p[i], g[i], m1[i], m2[i],
                                                                            kAmsgrad ? mx + i : nullptr, c);
  }
}

// Fills lists of the items the kernel takes (taken(item): the item's tensor pointers, or false) and launches
// them (launch(lists, blocks)), as many tensors and blocks as one launch takes at a time; marks them done.
template <class L, class Item, class Taken, class Launch>
void for_lists(std::span<Item> items, const Taken& taken, const Launch& launch) {
  L l{};
  int blocks = 0;
  auto flush = [&] {
    if (l.count == 0) return;
    l.first_block[l.count] = blocks;
    launch(l, blocks);
    l.count = 0;
    blocks = 0;
  };
  for (Item& it : items) {
    if (it.done) continue;
    std::array<void*, L::kPointers> ptrs{};
    if (!taken(it, ptrs)) continue;
    it.done = true;
    const int64_t n = it.param.numel();
    if (n == 0) continue;
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    if (l.count == L::kCapacity || blocks + chunks > INT32_MAX) flush();
    for (size_t d = 0; d < ptrs.size(); ++d) l.ptr[d][l.count] = static_cast<typename L::Element*>(ptrs[d]);
    l.n[l.count] = n;
    l.first_block[l.count] = blocks;
    blocks += static_cast<int>(chunks);
    ++l.count;
  }
  flush();
}

template <class T>
constexpr DType dtype_of() {
  return sizeof(T) == 4 ? DType::kFloat32 : DType::kFloat64;
}

template <class T>
void sgd_lists(std::span<SgdTensors> items, const SgdStep& s) {
  const optim_ops::SgdConstants<T> c(s);
  auto taken = [](const SgdTensors& it, std::array<void*, 3>& ptrs) {
    if (it.param.dtype != dtype_of<T>() || !optim_ops::same_layout(it.param, {&it.grad, &it.buf}))
      return false;
    ptrs = {it.param.data, it.grad.data, it.buf.data};
    return true;
  };
  for_lists<SgdLists<T>>(items, taken, [&](const SgdLists<T>& l, int blocks) {
    optim_ops::with_flags(
        [&](auto maximize, auto decay, auto nesterov) {
          sgd_lists_kernel<decltype(maximize)::value, decltype(decay)::value, decltype(nesterov)::value, T>
              <<<blocks, kThreads, 0, stream()>>>(l, c);
        },
        s.maximize, s.weight_decay != 0, s.nesterov);
    check(cudaGetLastError(), "sgd kernel launch");
  });
}

template <class T>
void adam_lists(std::span<AdamTensors> items, const AdamStep& s) {
  const optim_ops::AdamConstants<T> c(s);
  auto taken = [&](const AdamTensors& it, std::array<void*, 5>& ptrs) {
    if (it.param.dtype != dtype_of<T>() ||
        !optim_ops::same_layout(it.param, {&it.grad, &it.exp_avg, &it.exp_avg_sq})) {
      return false;
    }
    if (s.amsgrad && (!it.max_exp_avg_sq.data || !optim_ops::same_layout(it.param, {&it.max_exp_avg_sq}))) {
      return false;
    }
    ptrs = {it.param.data, it.grad.data, it.exp_avg.data, it.exp_avg_sq.data, it.max_exp_avg_sq.data};
    return true;
  };
  for_lists<AdamLists<T>>(items, taken, [&](const AdamLists<T>& l, int blocks) {
    optim_ops::with_flags(
        [&](auto maximize, auto coupled_decay, auto decoupled, auto amsgrad) {
          adam_lists_kernel<decltype(maximize)::value, decltype(coupled_decay)::value,
                            decltype(decoupled)::value, decltype(amsgrad)::value, T>
              <<<blocks, kThreads, 0, stream()>>>(l, c);
        },
        s.maximize, !s.decoupled && s.weight_decay != 0, s.decoupled, s.amsgrad);
    check(cudaGetLastError(), "adam kernel launch");
  });
}

}  // namespace

void sgd_momentum_steps(std::span<SgdTensors> params, const SgdStep& step) {
  sgd_lists<float>(params, step);
  sgd_lists<double>(params, step);
}

void adam_steps(std::span<AdamTensors> params, const AdamStep& step) {
  adam_lists<float>(params, step);
  adam_lists<double>(params, step);
}

bool sgd_momentum_step(const StridedRef& param, const StridedRef& grad, const StridedRef& buf, const SgdStep& step) {
  SgdTensors one{param, grad, buf};
  sgd_momentum_steps({&one, 1}, step);
  return one.done;
}

bool adam_step(const StridedRef& param, const StridedRef& grad, const StridedRef& exp_avg, const StridedRef& exp_avg_sq,
               const StridedRef& max_exp_avg_sq, const AdamStep& step) {
  AdamTensors one{param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq};
  adam_steps({&one, 1}, step);
  return one.done;
}

}  // namespace td::kernels::cuda
