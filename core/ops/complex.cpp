// The complex-number family: view_as_real / view_as_complex / real / imag (views that reinterpret the storage
// with doubled or halved strides, as PyTorch's), complex(real, imag), polar, angle, conj_physical and conj.
// PyTorch 1.13's conj is a lazy view carrying a conjugate bit; here conj materialises (conj_physical), so a
// write through conj(z) does not reach z (documented in docs/architecture.md).
//
// Gradients follow PyTorch's convention for complex numbers: for a real loss L the gradient of z is
// dL/dRe(z) + i dL/dIm(z), and a real input of an op with a complex result takes the real part of its
// gradient. Every op here is checked against PyTorch 1.13 (tests/core/complex_autograd_test.cpp).
#include <array>
#include <functional>
#include <numbers>

#include "core/backend.h"
#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

namespace {

DType part_dtype(DType complex) { return complex == DType::kComplex64 ? DType::kFloat32 : DType::kFloat64; }

// A view of t's storage as another dtype. It is not linked to t as a view base: the in-place history
// rewrite (CopySlices) assumes a view has its base's dtype, and autograd through complex values is refused.
Tensor reinterpret(const Tensor& t, DType dtype, std::vector<int64_t> sizes, std::vector<int64_t> strides,
                   int64_t offset) {
  return Tensor(std::make_shared<TensorImpl>(t.impl().storage, std::move(sizes), std::move(strides), offset, dtype));
}

Tensor view_as_real(const Tensor& z) {
  TD_CHECK_ARG(is_complex(z.dtype()), "[view_as_real] view_as_real is only supported for complex tensors");
  std::vector<int64_t> sizes = z.shape(), strides;
  for (int64_t s : z.strides()) strides.push_back(2 * s);
  sizes.push_back(2);
  strides.push_back(1);
  return reinterpret(z, part_dtype(z.dtype()), sizes, strides, 2 * z.impl().offset);
}

Tensor view_as_complex(const Tensor& x) {
  // PyTorch 1.13 also views float16 as complex32, a dtype tensord does not have.
  TD_CHECK_ARG(x.dtype() == DType::kFloat32 || x.dtype() == DType::kFloat64,
               "[view_as_complex] view_as_complex is only supported for half, float and double tensors, but got a "
               "tensor of scalar type: ", scalar_type_name(x.dtype()));
  TD_CHECK_ARG(x.dim() > 0 && x.sizes().back() == 2, "[view_as_complex] Tensor must have a last dimension of size 2");
  TD_CHECK_ARG(x.strides().back() == 1, "[view_as_complex] Tensor must have a last dimension with stride 1");
  std::vector<int64_t> sizes(x.sizes().begin(), x.sizes().end() - 1), strides;
  for (size_t d = 0; d + 1 < static_cast<size_t>(x.dim()); ++d) {
    TD_CHECK_ARG(x.strides()[d] % 2 == 0,
                 "[view_as_complex] Tensor must have a stride divisible by 2 for all but last dimension");
    strides.push_back(x.strides()[d] / 2);
  }
  TD_CHECK_ARG(x.impl().offset % 2 == 0, "[view_as_complex] Tensor must have a storage_offset divisible by 2");
  return reinterpret(x, x.dtype() == DType::kFloat32 ? DType::kComplex64 : DType::kComplex128, sizes, strides,
                     x.impl().offset / 2);
}

// real and imag of a complex tensor: one part of view_as_real.
Tensor part(const Tensor& z, int64_t which) {
  Tensor r = view_as_real(z);
  std::vector<int64_t> sizes = z.shape(), strides(r.strides().begin(), r.strides().end() - 1);
  return reinterpret(z, r.dtype(), sizes, strides, r.impl().offset + which);
}

// PyTorch's complex() and polar() checks: two float32 or two float64 tensors on one device.
void check_parts(std::string_view op, const Tensor& a, const Tensor& b) {
  const Tensor both[] = {a, b};
  ops::check_same_device(op, both);
  TD_CHECK_ARG(is_floating(a.dtype()) && !is_reduced_float(a.dtype()) && is_floating(b.dtype()) &&
                   !is_reduced_float(b.dtype()),
               "[", op, "] Expected both inputs to be Half, Float or Double tensors but got ",
               scalar_type_name(a.dtype()), " and ", scalar_type_name(b.dtype()));
  TD_CHECK_ARG(a.dtype() == b.dtype(), "[", op, "] Expected object of scalar type ", scalar_type_name(a.dtype()),
               " but got scalar type ", scalar_type_name(b.dtype()), " for second argument");
}

// A complex tensor from its two parts (broadcast together): each is copied into its half of the storage.
Tensor make_complex(std::string_view op, const Tensor& re, const Tensor& im) {
  check_parts(op, re, im);
  const Device device = ops::common_device(op, std::array<Tensor, 2>{re, im});
  auto shape = ops::broadcast_shapes(op, re.sizes(), im.sizes());
  Tensor out = empty(shape, {re.dtype() == DType::kFloat32 ? DType::kComplex64 : DType::kComplex128, device});
  if (out.numel() == 0) return out;
  for (int64_t which : {0, 1}) {
    const Tensor src = ops::on_device(which == 0 ? re : im, device);  // a 0-dim CPU part may join CUDA ones
    Tensor dst = part(out, which);
    auto src_strides = ops::broadcast_strides(src, shape);
    backend(device.type).copy(strided_ref(dst), StridedRef{src.data_ptr(), src.dtype(), shape, src_strides},
                              device.index);
  }
  return out;
}

Tensor conj_physical(const Tensor& z) {
  if (!is_complex(z.dtype())) return make_view(z, z.shape(), {z.strides().begin(), z.strides().end()}, z.impl().offset);
  return make_complex("conj_physical", part(z, 0), part(z, 1).neg());
}

}  // namespace

void register_complex_ops(Registry& r) {
  r.def("view_as_real(Tensor self) -> Tensor")
      .doc("a complex tensor's storage as real numbers, with a last dim of 2 (real, imaginary), as a view")
      .forward([](const Args& a) -> std::vector<Tensor> { return {view_as_real(a.tensor(0))}; })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> { return {c.grad().contiguous().view_as_complex()}; });

  r.def("view_as_complex(Tensor self) -> Tensor")
      .doc("a float tensor whose last dim of 2 holds (real, imaginary) pairs, as a complex view")
      .forward([](const Args& a) -> std::vector<Tensor> { return {view_as_complex(a.tensor(0))}; })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> { return {c.grad().contiguous().view_as_real()}; });

  r.def("real(Tensor self) -> Tensor")
      .doc("the real parts of a complex tensor as a view (self for a real tensor)")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        return {is_complex(x.dtype()) ? part(x, 0) : make_view(x, x.shape(), {x.strides().begin(), x.strides().end()}, x.impl().offset)};
      })
      .saves_inputs({})
      .complex_autograd()
      // The real gradient g becomes g + 0i (the node casts it to the input's dtype).
      .backward([](GradContext& c) -> std::vector<Tensor> { return {c.grad()}; });

  r.def("imag(Tensor self) -> Tensor")
      .doc("the imaginary parts of a complex tensor, as a view")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        TD_CHECK_ARG(is_complex(x.dtype()), "[imag] imag is not implemented for tensors with non-complex dtypes.");
        return {part(x, 1)};
      })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // d Im(z) / d Im(z) = 1: the gradient is g i.
        const Tensor& g = c.grad();
        return {Tensor::complex(zeros(g.shape(), {g.dtype(), g.device()}), g)};
      });

  r.def("complex(Tensor real, Tensor imag) -> Tensor")
      .doc("the complex tensor real + imag * 1j (float32 parts give complex64, float64 complex128), broadcasting")
      .forward([](const Args& a) -> std::vector<Tensor> { return {make_complex("complex", a.tensor(0), a.tensor(1))}; })
      .saves_inputs({})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        const Tensor& g = c.grad();
        Tensor gr, gi;
        if (c.needs_grad(0)) gr = ops::sum_to(g.real(), c.input_meta(0).sizes);
        if (c.needs_grad(1)) gi = ops::sum_to(g.imag(), c.input_meta(1).sizes);
        return {gr, gi};
      });

  r.def("polar(Tensor abs, Tensor angle) -> Tensor")
      .doc("the complex tensor abs * (cos(angle) + sin(angle) * 1j), broadcasting")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor &m = a.tensor(0), &t = a.tensor(1);
        check_parts("polar", m, t);
        return {make_complex("polar", m.mul(t.cos()), m.mul(t.sin()))};
      })
      .saves_inputs({})
      .saves_outputs()
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        // z = r e^(i t): dz/dr = sgn(z), dz/dt = i z; a real input takes Re(g conj(dz)) (PyTorch's
        // polar_backward), written in the parts: Re(g conj(s)) = g_re s_re + g_im s_im and
        // Re(g conj(i z)) = g_im z_re - g_re z_im.
        const Tensor& g = c.grad();
        const Tensor z = c.output(), g_re = g.real(), g_im = g.imag();
        Tensor gr, gt;
        if (c.needs_grad(0)) {
          const Tensor s = z.sgn();
          gr = ops::sum_to(g_re.mul(s.real()).add(g_im.mul(s.imag())), c.input_meta(0).sizes);
        }
        if (c.needs_grad(1)) gt = ops::sum_to(g_im.mul(z.real()).sub(g_re.mul(z.imag())), c.input_meta(1).sizes);
        return {gr, gt};
      });

  r.def("angle(Tensor self) -> Tensor")
      .doc("the argument of each element: atan2(imag, real) for complex, 0 or pi for real (NaN kept)")
      .forward([](const Args& a) -> std::vector<Tensor> {
        const Tensor& x = a.tensor(0);
        if (is_complex(x.dtype())) return {part(x, 1).atan2(part(x, 0))};
        Tensor f = is_integral(x.dtype()) ? x.to(default_float_dtype()) : x;
        // pi for negative values, 0 for the rest (-0. included), NaN for NaN, as PyTorch's angle.
        return {f.where(f.isnan(), f.lt(0).to(f.dtype()).mul(std::numbers::pi))};
      })
      .saves_inputs({0})
      .complex_autograd()
      .backward([](GradContext& c) -> std::vector<Tensor> {
        const Tensor& g = c.grad();
        if (!is_complex(c.input_meta(0).dtype)) {
          return {zeros(c.input_meta(0).sizes, {g.dtype(), g.device()})};  // piecewise constant for real inputs
        }
        // d atan2(y, x) = (-y dx + x dy) / |z|^2: the gradient g (-y + x i) / |z|^2, 0 at z = 0 (PyTorch's
        // angle_backward).
        const Tensor z = c.input(0), re = z.real(), im = z.imag();
        const Tensor scale = g.div(re.mul(re).add(im.mul(im)));
        return {Tensor::complex(im.neg().mul(scale), re.mul(scale)).where(z.ne(0), 0.0)};
      });

  r.def("conj_physical(Tensor self) -> Tensor")
      .doc("the complex conjugate, materialised (self for a real tensor)")
      .forward([](const Args& a) -> std::vector<Tensor> { return {conj_physical(a.tensor(0))}; })
      .saves_inputs({})
      .complex_autograd()
      // conj is its own adjoint: the gradient of conj(z) is conj(g).
      .backward([](GradContext& c) -> std::vector<Tensor> { return {c.grad().conj_physical()}; });

  r.def("conj(Tensor self) -> Tensor")
      .doc("the complex conjugate: a copy here (PyTorch 1.13 returns a lazy view with a conjugate bit)")
      .composite()
      .forward([](const Args& a) -> std::vector<Tensor> { return {a.tensor(0).conj_physical()}; });
}

}  // namespace td
