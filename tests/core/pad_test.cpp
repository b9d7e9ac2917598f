// pad, einsum, lerp, nan_to_num, repeat_interleave and scatter_reduce: exact values on every device (empty,
// 0-dim, negative dims, non-contiguous inputs), first and second derivatives by finite differences, and the
// errors PyTorch 1.13 raises, with its words.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/autograd/gradcheck.h"
#include "core/error.h"
#include "core/tensor.h"
#include "tests/core/device_test.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using testing::error_of;
using ::testing::HasSubstr;
using Inputs = std::vector<Tensor>;

class PadTest : public testing::DeviceTest {
 protected:
  // A float64 leaf with distinct, well-separated values (no ties, no zeros), for gradchecks.
  Tensor leaf(std::vector<int64_t> shape, double scale = 1) const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    std::vector<double> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = scale * (0.5 + 0.37 * static_cast<double>((i * 7) % 13)) * (i % 2 ? -1 : 1);
    return make64(v, std::move(shape)).requires_grad_();
  }
};

// ---- pad ----

TD_DEVICE_TEST(PadTest, PadModesValues) {
  Tensor x = arange(3, {1, 1, 3});  // [0, 1, 2]
  EXPECT_THAT(x.pad({2, 1}, "constant", 9).to_vector<float>(), ElementsAre(9, 9, 0, 1, 2, 9));
  // reflect mirrors around the edge elements, replicate repeats them, circular wraps around.
  EXPECT_THAT(x.pad({2, 2}, "reflect").to_vector<float>(), ElementsAre(2, 1, 0, 1, 2, 1, 0));
  EXPECT_THAT(x.pad({2, 2}, "replicate").to_vector<float>(), ElementsAre(0, 0, 0, 1, 2, 2, 2));
  EXPECT_THAT(x.pad({2, 3}, "circular").to_vector<float>(), ElementsAre(1, 2, 0, 1, 2, 0, 1, 2));
  // Negative pads crop; circular wraps around what is left ([1, 2]), as PyTorch 1.13.
  EXPECT_THAT(x.pad({-1, 2}, "constant").to_vector<float>(), ElementsAre(1, 2, 0, 0));
  EXPECT_THAT(x.pad({-1, 2}, "reflect").to_vector<float>(), ElementsAre(1, 2, 1, 0));
  EXPECT_THAT(x.pad({-1, 2}, "replicate").to_vector<float>(), ElementsAre(1, 2, 2, 2));
  EXPECT_THAT(x.pad({-1, 2}, "circular").to_vector<float>(), ElementsAre(1, 2, 1, 2));
  EXPECT_THAT(x.pad({2, -1}, "circular").to_vector<float>(), ElementsAre(0, 1, 0, 1));
  // Two dims: (left, right) of the last dim first, then the one before; corners follow both rules.
  Tensor m = arange(4, {1, 2, 2});  // [[0, 1], [2, 3]]
  EXPECT_THAT(m.pad({1, 0, 0, 1}, "replicate").to_vector<float>(), ElementsAre(0, 0, 1, 2, 2, 3, 2, 2, 3));
  // Circular needs the batched layout ([N, C, H, W] for two padded dims).
  EXPECT_THAT(m.view({1, 1, 2, 2}).pad({1, 0, 1, 0}, "circular").to_vector<float>(),
              ElementsAre(3, 2, 3, 1, 0, 1, 3, 2, 3));
  EXPECT_THAT(m.pad({0, 1, 1, 0}).shape(), ElementsAre(1, 3, 3));
  EXPECT_THAT(m.pad({0, 1, 1, 0}).to_vector<float>(), ElementsAre(0, 0, 0, 0, 1, 0, 2, 3, 0));
}

TD_DEVICE_TEST(PadTest, PadEdgeCases) {
  // Non-contiguous input: the transpose of [[0, 1, 2], [3, 4, 5]] is [[0, 3], [1, 4], [2, 5]].
  Tensor t = arange(6, {2, 3}).t();
  EXPECT_THAT(t.pad({1, 0}, "reflect").to_vector<float>(), ElementsAre(3, 0, 3, 4, 1, 4, 5, 2, 5));
  EXPECT_THAT(t.pad({0, 0, 1, 0}, "constant", -1).to_vector<float>(), ElementsAre(-1, -1, 0, 3, 1, 4, 2, 5));
  // Empty batch, empty constant input, 0-dim input with no padding, integer and bool constant padding.
  EXPECT_THAT(zeros({0, 2, 3}, {DType::kFloat32, device_}).pad({1, 1}, "reflect").shape(),
              ElementsAre(0, 2, 5));
  EXPECT_THAT(zeros({0, 3}, {DType::kFloat32, device_}).pad({1, 1}).shape(), ElementsAre(0, 5));
  Tensor s = make({4}, {}).view({});
  Tensor p = s.pad({});
  EXPECT_EQ(p.dim(), 0);
  EXPECT_FALSE(p.is_same(s));
  EXPECT_FLOAT_EQ(p.item<float>(), 4);
  EXPECT_THAT(idx({1, 2}, {2}).pad({1, 0}, "constant", 2.5).to_vector<int64_t>(), ElementsAre(2, 1, 2));
  EXPECT_THAT(tensor_bool({false}, {1}, device_).pad({0, 1}, "constant", 1.0).to_vector<uint8_t>(),
              ElementsAre(0, 1));
  EXPECT_THAT(idx({1, 2, 3}, {1, 1, 3}).pad({1, 1}, "circular").to_vector<int64_t>(),
              ElementsAre(3, 1, 2, 3, 1));
  // Cropping to nothing is allowed when nothing grows.
  EXPECT_THAT(arange(3, {1, 3}).pad({-2, -1}).shape(), ElementsAre(1, 0));
  // Zero padding still copies.
  Tensor x = arange(3, {1, 1, 3});
  EXPECT_FALSE(x.pad({0, 0}, "reflect").shares_storage(x));
  EXPECT_FALSE(x.pad({0, 0}).shares_storage(x));
}

TD_DEVICE_TEST(PadTest, PadGradients) {
  // reflect: out = [x1, x0, x1, x2] for pad (1, 0), so d sum(out * w)/dx = [w1, w0 + w2, w3].
  Tensor x = make64({1, 2, 3}, {1, 1, 3}).requires_grad_();
  x.pad({1, 0}, "reflect").mul(make64({1, 10, 100, 1000}, {1, 1, 4})).sum().backward();
  EXPECT_THAT(x.grad().to_vector<double>(), ElementsAre(10, 101, 1000));
  Tensor a = leaf({2, 3, 4}), b = leaf({1, 2, 3, 3}, 0.5), c = leaf({1, 1, 2, 3, 3}, 0.25);
  std::vector<std::pair<std::string, autograd::GradcheckFn>> fns = {
      {"constant",
       [](const Inputs& t) {
         return t[0].pad({1, -1, 2, 0}, "constant", 0.5);
       }},
      {"reflect_1d",
       [](const Inputs& t) {
         return t[0].pad({3, -1}, "reflect");
       }},
      {"reflect_2d_transposed",
       [](const Inputs& t) {
         return t[1].transpose(2, 3).pad({2, 1, 1, 2}, "reflect");
       }},
      {"reflect_3d",
       [](const Inputs& t) {
         return t[2].pad({2, 1, 1, 0, 1, 1}, "reflect");
       }},
      {"replicate_1d",
       [](const Inputs& t) {
         return t[0].pad({2, 5}, "replicate");
       }},
      {"replicate_2d",
       [](const Inputs& t) {
         return t[1].pad({3, 0, 1, 1}, "replicate");
       }},
      {"replicate_3d_expanded",
       [](const Inputs& t) {
         return t[2].expand({2, 1, 2, 3, 3}).pad({1, 1, 0, 2, 1, 0}, "replicate");
       }},
      {"circular_2d",
       [](const Inputs& t) {
         return t[1].pad({3, 2, -1, 2}, "circular");
       }},
  };
  for (auto& [name, fn] : fns) expect_gradcheck("pad " + name, fn, {a, b, c}, name != "reflect_3d");
}

TD_DEVICE_TEST(PadTest, PadErrors) {
  Tensor x = arange(6, {1, 2, 3});
  auto expect = [](const Error& e, ErrorCode code, std::string_view message) {
    EXPECT_EQ(e.code(), code);
    EXPECT_EQ(std::string_view(e.what()), message);
  };
  expect(error_of([&] {
           (void)x.pad({1, 1}, "foo");
         }),
         ErrorCode::kUnimplemented, "[pad] Unrecognised padding mode foo");
  expect(error_of([&] { (void)x.pad({1}); }), ErrorCode::kInvalidArgument,
         "[pad] Padding length must be divisible by 2");
  expect(error_of([&] {
           (void)x.pad({1, 1, 1, 1, 1, 1, 1, 1});
         }),
         ErrorCode::kInvalidArgument, "[pad] Padding length too large");
  expect(error_of([&] {
           (void)x.pad({1, 1}, "reflect", 1.0);
         }),
         ErrorCode::kInvalidArgument, "[pad] Padding mode \"reflect\" doesn't take in value argument");
  expect(error_of([&] {
           (void)arange(3, {3}).pad({1, 1}, "replicate");
         }),
         ErrorCode::kUnimplemented,
         "[pad] Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now");
  // Constant padding: cropping past the edges, and a negative output size.
  expect(error_of([&] {
           (void)x.pad({-4, 1});
         }),
         ErrorCode::kOutOfRange,
         "[pad] Dimension out of range (expected to be in range of [-3, 2], but got 4)");
  expect(error_of([&] {
           (void)x.pad({-2, -2});
         }),
         ErrorCode::kInvalidArgument, "[pad] start (0) + length (-1) exceeds dimension size (1).");
  expect(
      error_of([&] {
        (void)x.pad({-3, 0, 1, 0});
      }),
      ErrorCode::kInvalidArgument,
      "[pad] The input size 3, plus negative padding -3 and 0 resulted in a negative output size, which is "
      "invalid. Check dimension 2 of your input.");
  // Reflection and replication.
  expect(error_of([&] {
           (void)x.pad({3, 0}, "reflect");
         }),
         ErrorCode::kInvalidArgument,
         "[pad] Argument #4: Padding size should be less than the corresponding input dimension, but got: "
         "padding "
         "(3, 0) at dimension 2 of input [1, 2, 3]");
  expect(error_of([&] {
           (void)x.pad({1, 1, 2, 2}, "reflect");
         }),
         ErrorCode::kInvalidArgument,
         "[pad] Argument #6: Padding size should be less than the corresponding input dimension, but got: "
         "padding "
         "(2, 2) at dimension 1 of input 3");
  expect(error_of([&] {
           (void)x.pad({-2, -1}, "reflect");
         }),
         ErrorCode::kInvalidArgument, "[pad] 2input (W: 3)is too small. Calculated output W: 0");
  expect(error_of([&] {
           (void)x.pad({-2, -1}, "replicate");
         }),
         ErrorCode::kInvalidArgument, "[pad] input (W: 3) is too small. Calculated output W: 0");
  expect(error_of([&] {
           (void)arange(9, {1, 3, 3}).pad({-2, -2, 0, 0}, "replicate");
         }),
         ErrorCode::kInvalidArgument, "[pad] Trying to create tensor with negative dimension -1: [1, 3, -1]");
  expect(
      error_of([&] {
        (void)zeros({1, 0, 3}, {DType::kFloat32, device_}).pad({1, 1}, "reflect");
      }),
      ErrorCode::kInvalidArgument,
      device_.is_cuda()
          ? "[pad] 2D or 3D (batch mode) tensor expected for input, but got: [ torch.cuda.FloatTensor{1,0,3} "
            "]"
          : "[pad] 2D or 3D (batch mode) tensor expected for input, but got: [ torch.FloatTensor{1,0,3} ]");
  expect(error_of([&] {
           (void)zeros({1, 2, 0}, {DType::kFloat32, device_}).pad({1, 1}, "replicate");
         }),
         ErrorCode::kInvalidArgument,
         "[pad] Expected 2D or 3D (batch mode) tensor with possibly 0 batch size and other non-zero "
         "dimensions for "
         "input, but got: [1, 2, 0]");
  Error e = error_of([&] { (void)idx({1, 2, 3}, {1, 1, 3}).pad({1, 1}, "replicate"); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("\"replication_pad1d_c"));
  EXPECT_THAT(e.what(), HasSubstr("not implemented for 'int64'"));
  // Circular.
  expect(error_of([&] {
           (void)x.pad({4, 0}, "circular");
         }),
         ErrorCode::kInvalidArgument, "[pad] Padding value causes wrapping around more than once.");
  expect(error_of([&] {
           (void)x.pad({-1, 3}, "circular");
         }),
         ErrorCode::kInvalidArgument, "[pad] Padding value causes wrapping around more than once.");
  expect(error_of([&] {
           (void)arange(6, {2, 3}).pad({1, 1}, "circular");
         }),
         ErrorCode::kInvalidArgument, "[pad] Invalid padding size, expected 0 but got 2");
}

// ---- einsum ----

TD_DEVICE_TEST(PadTest, EinsumValues) {
  Tensor a = arange(6, {2, 3}), b = arange(3, {3});
  // [[0, 1, 2], [3, 4, 5]] @ [0, 1, 2] = [5, 14].
  EXPECT_THAT(Tensor::einsum("ij,j->i", {a, b}).to_vector<float>(), ElementsAre(5, 14));
  EXPECT_THAT(Tensor::einsum("ij->ji", {a}).to_vector<float>(), ElementsAre(0, 3, 1, 4, 2, 5));
  EXPECT_THAT(Tensor::einsum("ij", {a}).shape(), ElementsAre(2, 3));
  EXPECT_THAT(Tensor::einsum("ji", {a}).to_vector<float>(),
              ElementsAre(0, 3, 1, 4, 2, 5));  // implicit: sorted
  Tensor sq = arange(9, {3, 3});
  EXPECT_FLOAT_EQ(Tensor::einsum("ii", {sq}).item<float>(), 12);
  EXPECT_THAT(Tensor::einsum("ii->i", {sq}).to_vector<float>(), ElementsAre(0, 4, 8));
  // Ellipsis with broadcasting: [2, 1, 3] and [4, 3] give [2, 4].
  Tensor e =
      Tensor::einsum("...i,...i->...", {arange(6, {2, 1, 3}), ones({4, 3}, {DType::kFloat32, device_})});
  EXPECT_THAT(e.shape(), ElementsAre(2, 4));
  EXPECT_THAT(e.to_vector<float>(), ElementsAre(3, 3, 3, 3, 12, 12, 12, 12));
  // Three operands, the default left-to-right order and an explicit path agree.
  Tensor c = arange(9, {3, 3});
  Tensor left = Tensor::einsum("ij,jk,kl->il", {a.t(), a, c});
  Tensor pathed = Tensor::einsum("ij,jk,kl->il", {a.t(), a, c}, std::vector<int64_t>{1, 2, 0, 1});
  EXPECT_THAT(left.to_vector<float>(), ElementsAreArray(a.t().matmul(a).matmul(c).to_vector<float>()));
  EXPECT_THAT(pathed.to_vector<float>(), ElementsAreArray(left.to_vector<float>()));
  // Zero-size contraction sums nothing; integers contract too.
  Tensor z = Tensor::einsum(
      "ij,jk->ik", {zeros({2, 0}, {DType::kFloat32, device_}), zeros({0, 3}, {DType::kFloat32, device_})});
  EXPECT_THAT(z.to_vector<float>(), ElementsAre(0, 0, 0, 0, 0, 0));
  EXPECT_THAT(Tensor::einsum("i,i->", {idx({1, 2, 3}, {3}), idx({4, 5, 6}, {3})}).item<int64_t>(), 32);
  // A 0-dim operand scales; mixed dtypes promote when nothing is summed (a plain product).
  EXPECT_THAT(Tensor::einsum(",i->i", {make({2}, {}).view({}), b}).to_vector<float>(), ElementsAre(0, 2, 4));
  EXPECT_EQ(Tensor::einsum("i,i->i", {b, b.to(DType::kFloat64)}).dtype(), DType::kFloat64);
}

TD_DEVICE_TEST(PadTest, EinsumGradients) {
  Tensor a = leaf({2, 3}), b = leaf({3, 4}, 0.5), c = leaf({3, 3}, 0.25), d = leaf({2, 1, 3});
  std::vector<std::pair<std::string, autograd::GradcheckFn>> fns = {
      {"matmul",
       [](const Inputs& t) {
         return Tensor::einsum("ij,jk->ik", {t[0], t[1]});
       }},
      {"transposed",
       [](const Inputs& t) {
         return Tensor::einsum("ji,jk->ik", {t[0].t(), t[1]});
       }},
      {"trace_times",
       [](const Inputs& t) {
         return Tensor::einsum("ii,ij->j", {t[2], t[1]});
       }},
      {"broadcast_ellipsis",
       [](const Inputs& t) {
         return Tensor::einsum("...i,ij->...j", {t[3], t[1]});
       }},
      {"three",
       [](const Inputs& t) {
         return Tensor::einsum("ab,bc,cd->ad", {t[0], t[2], t[1]});
       }},
      {"sum_out", [](const Inputs& t) { return Tensor::einsum("ij->", {t[0]}); }},
  };
  for (auto& [name, fn] : fns) expect_gradcheck("einsum " + name, fn, {a, b, c, d});
}

TD_DEVICE_TEST(PadTest, EinsumErrors) {
  Tensor v = arange(3, {3}), m = arange(12, {3, 4});
  auto expect = [](const Error& e, std::string_view message) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(std::string_view(e.what()), message);
  };
  expect(error_of([&] {
           (void)Tensor::einsum("i1,i", {v, v});
         }),
         "[einsum] einsum(): invalid subscript given at index 1 in the equation string, subscripts must be "
         "in [a-zA-Z]");
  expect(error_of([&] {
           (void)Tensor::einsum("i,i->ii", {v, v});
         }),
         "[einsum] einsum(): output subscript i appears more than once in the output");
  expect(error_of([&] {
           (void)Tensor::einsum("i,i->j", {v, v});
         }),
         "[einsum] einsum(): output subscript j does not appear in the equation for any input operand");
  expect(error_of([&] {
           (void)Tensor::einsum("i,i,i", {v, v});
         }),
         "[einsum] einsum(): fewer operands were provided than specified in the equation");
  expect(error_of([&] {
           (void)Tensor::einsum("i", {v, v});
         }),
         "[einsum] einsum(): more operands were provided than specified in the equation");
  expect(error_of([&] { (void)Tensor::einsum("ij", {v}); }),
         "[einsum] einsum(): the number of subscripts in the equation (2) does not match the number of "
         "dimensions "
         "(1) for operand 0 and no ellipsis was given");
  expect(error_of([&] {
           (void)Tensor::einsum("i,i", {v, arange(4, {4})});
         }),
         "[einsum] einsum(): subscript i has size 4 for operand 1 which does not broadcast with previously "
         "seen size 3");
  expect(error_of([&] { (void)Tensor::einsum("ii", {m}); }),
         "[einsum] einsum(): subscript i is repeated for operand 0 but the sizes don't match, 4 != 3");
  expect(error_of([&] { (void)Tensor::einsum("i.", {m}); }),
         "[einsum] einsum(): found '.' for operand 0 that is not part of any ellipsis");
  expect(error_of([&] {
           (void)Tensor::einsum("...,...", {v, arange(4, {4})});
         }),
         "[einsum] einsum(): dimension 0 covered by ellipsis in operand 1has size 4 which does not broadcast "
         "with "
         "previously seen ellipsis with size 3 for the respective dimension");
  expect(error_of([&] {
           (void)Tensor::einsum("i,i->", {v, v.to(DType::kFloat64)});
         }),
         "[einsum] expected scalar type float32 but found float64");
  expect(error_of([&] { (void)Tensor::einsum("", {}); }),
         "[einsum] einsum(): must provide at least one operand");
}

// ---- lerp, nan_to_num ----

TD_DEVICE_TEST(PadTest, LerpAndNanToNum) {
  Tensor s = make({0, 10, -4}, {3}), e = make({10, 20, 4}, {3});
  EXPECT_THAT(s.lerp(e, 0.25).to_vector<float>(), ElementsAre(2.5, 12.5, -2));
  EXPECT_THAT(s.lerp(e, 1.0).to_vector<float>(), ElementsAre(10, 20, 4));  // weight 1 gives end exactly
  EXPECT_THAT(s.lerp(e, make({0, 0.5, 2}, {3})).to_vector<float>(), ElementsAre(0, 15, 12));
  EXPECT_THAT(s.lerp(e, make({0.5}, {1})).to_vector<float>(), ElementsAre(5, 15, 0));
  EXPECT_THAT(make({1}, {1}).lerp(make({3, 5}, {2, 1}), 0.5).shape(), ElementsAre(2, 1));
  Error err = error_of([&] { (void)s.lerp(e.to(DType::kFloat64), 0.5); });
  EXPECT_EQ(err.code(), ErrorCode::kInvalidArgument);
  EXPECT_STREQ(err.what(), "[lerp] expected dtype float32 for `end` but got dtype float64");
  err = error_of([&] { (void)s.lerp(e, make64({0.5}, {1})); });
  EXPECT_STREQ(err.what(), "[lerp] expected dtype float32 for `weight` but got dtype float64");
  err = error_of([&] { (void)idx({1}, {1}).lerp(idx({2}, {1}), 0.5); });
  EXPECT_STREQ(err.what(), "[lerp] \"lerp_kernel_scalar\" not implemented for 'int64'");
  err = error_of([&] { (void)s.lerp(make({1, 2}, {2}), 0.5); });
  EXPECT_THAT(err.what(), HasSubstr("[lerp] The size of tensor a (3) must match the size of tensor b (2)"));

  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = make({nan, inf, -inf, 1.5}, {4});
  EXPECT_THAT(x.nan_to_num().to_vector<float>(),
              ElementsAre(0, std::numeric_limits<float>::max(), std::numeric_limits<float>::lowest(), 1.5));
  EXPECT_THAT(x.nan_to_num(2, 3, -4).to_vector<float>(), ElementsAre(2, 3, -4, 1.5));
  EXPECT_THAT(x.to(DType::kFloat64).nan_to_num().to_vector<double>()[1], std::numeric_limits<double>::max());
  EXPECT_THAT(x.t().nan_to_num(1).to_vector<float>()[0], 1);  // a 1-d t() is the tensor itself
  EXPECT_THAT(idx({1, 2}, {2}).nan_to_num(5).to_vector<int64_t>(), ElementsAre(1, 2));
  EXPECT_EQ(zeros({0}, {DType::kFloat32, device_}).nan_to_num().numel(), 0);
  // The gradient passes through finite values only: d/dx = isfinite(x).
  Tensor xg = make64({std::nan(""), 2, -INFINITY}, {3}).requires_grad_();
  xg.nan_to_num().sum().backward();
  EXPECT_THAT(xg.grad().to_vector<double>(), ElementsAre(0, 1, 0));

  Tensor a = leaf({2, 3}), b = leaf({3}, 0.5), w = leaf({2, 1}, 0.3);
  std::vector<std::pair<std::string, autograd::GradcheckFn>> fns = {
      {"lerp_number", [](const Inputs& t) { return t[0].lerp(t[1], 0.3); }},
      {"lerp_number_far", [](const Inputs& t) { return t[0].t().lerp(t[1].unsqueeze(1), 0.8); }},
      {"lerp_tensor", [](const Inputs& t) { return t[0].lerp(t[1], t[2]); }},
      {"nan_to_num", [](const Inputs& t) { return t[0].nan_to_num(1, 2, 3); }},
  };
  for (auto& [name, fn] : fns) expect_gradcheck(name, fn, {a, b, w});
}

// ---- repeat_interleave ----

TD_DEVICE_TEST(PadTest, RepeatInterleave) {
  Tensor x = arange(4, {2, 2});
  EXPECT_THAT(x.repeat_interleave(2).to_vector<float>(), ElementsAre(0, 0, 1, 1, 2, 2, 3, 3));
  EXPECT_THAT(x.repeat_interleave(2, 1).to_vector<float>(), ElementsAre(0, 0, 1, 1, 2, 2, 3, 3));
  EXPECT_THAT(x.repeat_interleave(idx({0, 2}, {2}), -2).to_vector<float>(), ElementsAre(2, 3, 2, 3));
  EXPECT_THAT(x.t().repeat_interleave(idx({1, 2}, {2}), 0, 3).to_vector<float>(),
              ElementsAre(0, 2, 1, 3, 1, 3));
  EXPECT_THAT(make({7}, {}).view({}).repeat_interleave(3).to_vector<float>(), ElementsAre(7, 7, 7));
  EXPECT_THAT(zeros({0, 2}, {DType::kFloat32, device_}).repeat_interleave(2, 0).shape(), ElementsAre(0, 2));
  EXPECT_THAT(idx({2, 0, 1}, {3}).repeat_interleave().to_vector<int64_t>(), ElementsAre(0, 0, 2));
  EXPECT_EQ(idx({2}, {1}).to(DType::kInt32).repeat_interleave().dtype(), DType::kInt32);

  auto expect = [](const Error& e, ErrorCode code, std::string_view message) {
    EXPECT_EQ(e.code(), code);
    EXPECT_EQ(std::string_view(e.what()), message);
  };
  expect(error_of([&] { (void)x.repeat_interleave(-1); }), ErrorCode::kInvalidArgument,
         "[repeat_interleave] repeats can not be negative");
  expect(error_of([&] { (void)x.repeat_interleave(2, 2); }), ErrorCode::kOutOfRange,
         "[repeat_interleave] Dimension out of range (expected to be in range of [-2, 1], but got 2)");
  expect(error_of([&] { (void)make({1}, {}).view({}).repeat_interleave(2, 0); }), ErrorCode::kOutOfRange,
         "[repeat_interleave] Dimension specified as 0 but tensor has no dimensions");
  expect(error_of([&] {
           (void)x.repeat_interleave(idx({1, 2, 3}, {3}), 0);
         }),
         ErrorCode::kInvalidArgument,
         "[repeat_interleave] repeats must have the same size as input along dim (repeats [3], input [2, 2], "
         "dim 0)");
  expect(error_of([&] {
           (void)x.repeat_interleave(idx({1, 2}, {1, 2}), 0);
         }),
         ErrorCode::kInvalidArgument, "[repeat_interleave] repeats must be 0-dim or 1-dim tensor");
  expect(error_of([&] {
           (void)x.repeat_interleave(idx({1, 2}, {2}), 0, 4);
         }),
         ErrorCode::kInvalidArgument, "[repeat_interleave] allocated size does not match required size");
  expect(error_of([&] {
           (void)x.repeat_interleave(make({1, 2}, {2}), 0);
         }),
         ErrorCode::kInvalidArgument,
         "[repeat_interleave] \"repeat_interleave_cpu\" not implemented for 'float32'");
  expect(error_of([&] { (void)idx({2}, {}).view({}).repeat_interleave(); }), ErrorCode::kInvalidArgument,
         "[repeat_interleave] repeat_interleave only accept 1D vector as repeat");

  Tensor a = leaf({2, 3});
  Tensor counts = idx({2, 0, 3}, {3});
  expect_gradcheck("repeat_interleave", [&](const Inputs& t) { return t[0].repeat_interleave(counts, 1); },
                   {a});
  expect_gradcheck("repeat_interleave_flat", [](const Inputs& t) { return t[0].t().repeat_interleave(2); },
                   {a});
}

// ---- scatter_reduce (and the scatter kernels it shares) ----

TD_DEVICE_TEST(PadTest, ScatterReduceValues) {
  // self [[0, 1, 2], [3, 4, 5]]; column 0 gets 10 (row 0) and 40 (row 1), column 1 gets 20 and 50 in row 0,
  // column 2 gets 30 and 60 in row 1.
  Tensor x = arange(6, {2, 3});
  Tensor index = idx({0, 0, 1, 1, 0, 1}, {2, 3});
  Tensor src = make({10, 20, 30, 40, 50, 60}, {2, 3});
  auto run = [&](const char* reduce, bool include_self) {
    return x.scatter_reduce(0, index, src, reduce, include_self).to_vector<float>();
  };
  EXPECT_THAT(run("sum", true), ElementsAre(10, 71, 2, 43, 4, 95));
  EXPECT_THAT(run("sum", false), ElementsAre(10, 70, 2, 40, 4, 90));
  EXPECT_THAT(run("prod", true), ElementsAre(0, 1000, 2, 120, 4, 9000));
  EXPECT_THAT(run("prod", false), ElementsAre(10, 1000, 2, 40, 4, 1800));
  EXPECT_THAT(run("amax", true), ElementsAre(10, 50, 2, 40, 4, 60));
  EXPECT_THAT(run("amin", true), ElementsAre(0, 1, 2, 3, 4, 5));
  EXPECT_THAT(run("amin", false), ElementsAre(10, 20, 2, 40, 4, 30));
  // mean: (1 + 20 + 50) / 3, (5 + 30 + 60) / 3; without self: / 2. Untouched places keep self.
  std::vector<float> mean = run("mean", true);
  EXPECT_FLOAT_EQ(mean[1], 71.0f / 3);
  EXPECT_FLOAT_EQ(mean[5], 95.0f / 3);
  EXPECT_THAT(run("mean", false), ElementsAre(10, 35, 2, 40, 4, 45));
  // Integer mean floors, as PyTorch: (-5 + 2 + 3) / 3 = 0, (7 + 4) / 2 = 5.
  Tensor im = idx({-5, 7}, {2}).scatter_reduce(0, idx({0, 0, 1}, {3}), idx({2, 3, 4}, {3}), "mean");
  EXPECT_THAT(im.to_vector<int64_t>(), ElementsAre(0, 5));
  // NaN propagates through amax/amin.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> m =
      make({nan, 1}, {2}).scatter_reduce(0, idx({0, 1}, {2}), make({1, nan}, {2}), "amax").to_vector<float>();
  EXPECT_TRUE(std::isnan(m[0]) && std::isnan(m[1]));
  // Non-contiguous self, 0-dim, empty index, and the small types (CUDA: compare-and-swap on the enclosing
  // word).
  EXPECT_THAT(arange(6, {3, 2})
                  .t()
                  .scatter_reduce(1, idx({2, 2}, {1, 2}), make({5, 7}, {1, 2}), "amax")
                  .to_vector<float>(),
              ElementsAre(0, 2, 7, 1, 3, 5));
  EXPECT_FLOAT_EQ(make({2}, {})
                      .view({})
                      .scatter_reduce(0, idx({0}, {}).view({}), make({3}, {}).view({}), "prod")
                      .item<float>(),
                  6);
  EXPECT_THAT(x.scatter_reduce(0, idx({}, {0, 3}), src, "prod").to_vector<float>(),
              ElementsAre(0, 1, 2, 3, 4, 5));
  Tensor i8 = idx({1, 2, 3}, {3}).to(DType::kInt8);
  Tensor i8src = idx({5, -7, 9, 4}, {4}).to(DType::kInt8);
  Tensor at = idx({0, 0, 2, 2}, {4});
  EXPECT_THAT(i8.scatter_reduce(0, at, i8src, "amax").to(DType::kInt64).to_vector<int64_t>(),
              ElementsAre(5, 2, 9));
  EXPECT_THAT(i8.scatter_reduce(0, at, i8src, "prod").to(DType::kInt64).to_vector<int64_t>(),
              ElementsAre(-35, 2, 108));
  EXPECT_THAT(i8.scatter_add(0, at, i8src).to(DType::kInt64).to_vector<int64_t>(), ElementsAre(-1, 2, 16));
  Tensor flags = tensor_bool({false, true, true}, {3}, device_);
  EXPECT_THAT(flags.scatter_reduce(0, idx({0, 2}, {2}), tensor_bool({true, false}, {2}, device_), "amin")
                  .to_vector<uint8_t>(),
              ElementsAre(0, 1, 0));
  EXPECT_THAT(
      flags.scatter_add(0, idx({0, 0}, {2}), tensor_bool({true, true}, {2}, device_)).to_vector<uint8_t>(),
      ElementsAre(1, 1, 1));
  // Many threads hitting one place: every product and maximum lands.
  int64_t n = 4096;
  Tensor many = ones({n}, {DType::kFloat64, device_}).mul(1.0001);
  Tensor to0 = zeros({n}, {DType::kInt64, device_});
  EXPECT_NEAR(ones({1}, {DType::kFloat64, device_}).scatter_reduce(0, to0, many, "prod").item<double>(),
              std::pow(1.0001, n), 1e-9);
  Tensor ramp = tensor(std::vector<int64_t>(static_cast<size_t>(n), 3), {n}, device_).cumsum(0);
  EXPECT_EQ(zeros({1}, {DType::kInt64, device_}).scatter_reduce(0, to0, ramp, "amax").item<int64_t>(), 3 * n);
}

TD_DEVICE_TEST(PadTest, ScatterReduceGradients) {
  // amax with a tie: 4 at self[1] and src[0] share the gradient of place 1; src[1] (2) gets none.
  Tensor self = make64({1, 4}, {2}).requires_grad_(), src = make64({4, 2}, {2}).requires_grad_();
  self.scatter_reduce(0, idx({1, 1}, {2}), src, "amax").mul(make64({10, 100}, {2})).sum().backward();
  EXPECT_THAT(self.grad().to_vector<double>(), ElementsAre(10, 50));
  EXPECT_THAT(src.grad().to_vector<double>(), ElementsAre(50, 0));
  // prod with a single zero reaching a place: d/dsrc0 = 3 * 2 = 6 there, the others 0 times something.
  Tensor ps = make64({3}, {1}).requires_grad_(), pz = make64({0, 2}, {2}).requires_grad_();
  ps.scatter_reduce(0, idx({0, 0}, {2}), pz, "prod").sum().backward();
  EXPECT_THAT(pz.grad().to_vector<double>(), ElementsAre(6, 0));
  EXPECT_THAT(ps.grad().to_vector<double>(), ElementsAre(0));

  Tensor a = leaf({3, 4}), s = leaf({2, 4}, 0.7);
  Tensor index = idx({0, 2, 1, 2, 2, 2, 1, 0}, {2, 4});
  for (const char* reduce : {"sum", "prod", "mean", "amax", "amin"}) {
    for (bool include_self : {true, false}) {
      std::string name =
          std::string("scatter_reduce ") + reduce + (include_self ? " include_self" : " exclude_self");
      bool smooth = std::string(reduce) != "amax" && std::string(reduce) != "amin";
      expect_gradcheck(
          name,
          [&, reduce, include_self](const Inputs& t) {
            return t[0].scatter_reduce(0, index, t[1], reduce, include_self);
          },
          {a, s}, smooth);
    }
  }
}

TD_DEVICE_TEST(PadTest, ScatterReduceErrors) {
  Tensor x = arange(6, {2, 3}), src = arange(6, {2, 3});
  Tensor index = idx({0, 1, 0, 1, 0, 1}, {2, 3});
  auto expect = [](const Error& e, ErrorCode code, std::string_view message) {
    EXPECT_EQ(e.code(), code);
    EXPECT_EQ(std::string_view(e.what()), message);
  };
  expect(error_of([&] { (void)x.scatter_reduce(0, index, src, "max"); }), ErrorCode::kInvalidArgument,
         "[scatter_reduce] reduce argument must be either sum, prod, mean, amax or amin, got 'max'");
  expect(
      error_of([&] { (void)x.scatter_reduce(0, index, src.to(DType::kFloat64), "sum"); }),
      ErrorCode::kInvalidArgument,
      "[scatter_reduce] scatter(): Expected self.dtype to be equal to src.dtype (self float32, src float64)");
  expect(error_of([&] { (void)x.scatter_reduce(0, index.to(DType::kInt32), src, "sum"); }),
         ErrorCode::kInvalidArgument,
         "[scatter_reduce] scatter(): Expected dtype int64 for index (got int32)");
  expect(error_of([&] {
           (void)x.scatter_reduce(0, idx({2}, {1, 1}), src, "sum");
         }),
         ErrorCode::kOutOfRange, "[scatter_reduce] index 2 is out of bounds for dimension 0 with size 2");
  expect(error_of([&] { (void)x.scatter_reduce(2, index, src, "sum"); }), ErrorCode::kOutOfRange,
         "[scatter_reduce] Dimension out of range (expected to be in range of [-2, 1], but got 2)");
  expect(error_of([&] {
           (void)tensor_bool({true}, {1}, device_)
               .scatter_reduce(0, idx({0}, {1}), tensor_bool({true}, {1}, device_), "mean");
         }),
         ErrorCode::kInvalidArgument,
         "[scatter_reduce] \"scatter_gather_tensor_cpu_reduce_mean\" not implemented for 'bool'");
  Error e = error_of([&] { (void)x.scatter_reduce(0, idx({0, 0, 0, 0}, {1, 4}), src, "sum"); });
  EXPECT_THAT(e.what(), HasSubstr("Size does not match at dimension 1"));

  // PyTorch differentiates only an index of src's shape.
  Tensor xs = make64({1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_(),
         ss = make64({1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_();
  expect(error_of([&] {
           xs.scatter_reduce(0, idx({0, 1}, {1, 2}), ss, "sum").sum().backward();
         }),
         ErrorCode::kInvalidArgument,
         "[scatter_reduce] Function ScatterReduceBackward0 returned an invalid gradient at index 1 - got [1, "
         "2] but "
         "expected shape compatible with [2, 3]");
  e = error_of([&] { xs.scatter_reduce(0, idx({0, 1}, {1, 2}), ss, "amax").sum().backward(); });
  EXPECT_THAT(e.what(),
              HasSubstr("[scatter_reduce] The size of tensor a (3) must match the size of tensor b (2) at "
                        "non-singleton dimension 1"));
  // prod: the first derivative exists with two zeros meeting, the second does not (PyTorch's DelayedError).
  Tensor ps = make64({1, 2}, {2}).requires_grad_(), pz = make64({0, 0, 3}, {3}).requires_grad_();
  Tensor out = ps.scatter_reduce(0, idx({0, 0, 1}, {3}), pz, "prod");
  out.sum().backward({}, /*retain_graph=*/true, /*create_graph=*/true);
  EXPECT_THAT(pz.grad().to_vector<double>(), ElementsAre(0, 0, 2));
  expect(error_of([&] { pz.grad().sum().backward(); }), ErrorCode::kUnimplemented,
         "[scatter_reduce] scatter_reduce(): Double backward is unsupported for src when >1 zeros in src are "
         "scattered to the same position in self");
}

TD_INSTANTIATE_DEVICES(PadTest);

}  // namespace
}  // namespace td
