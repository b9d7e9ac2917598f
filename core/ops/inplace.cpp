// In-place ops (`add_`, `exp_`, `fill_`, `copy_`, ...) and `out=` forms, for every op at once.
//
// An in-place op is declared with a function computing the new value of `self` from its arguments, usually
// the functional op of the same name. The value is checked (shape, castable dtype), written into self's
// memory and self's version counter is bumped. Under autograd the op runs on a clone of self (the graph
// keeps the original values), and self's history is rebased onto the result; for a view, the base's
// history becomes "base with the view's region replaced" (as_strided_scatter), as PyTorch's CopySlices does.
//
// `name.out` runs op `name` with its last argument(s) as the output tensor(s): resized when their shape
// differs, written and version-bumped; PyTorch refuses them under autograd and so do we.
#include "core/autograd/forward_ad.h"
#include "core/autograd/grad_mode.h"
#include "core/autograd/node.h"
#include "core/error.h"
#include "core/ops/helpers.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"

namespace td {

namespace {

void check_castable(std::string_view op, DType result, DType out) {
  TD_CHECK_ARG(can_cast(result, out), "[", op, "] result type ", scalar_type_name(result),
               " can't be cast to the desired output type ", scalar_type_name(out));
}

// A tensor with a stride-0 dim would have several results written to one element.
void check_no_internal_overlap(std::string_view op, const Tensor& self) {
  for (int64_t d = 0; d < self.dim(); ++d) {
    TD_CHECK_ARG(self.stride(d) != 0 || self.size(d) <= 1, "[", op,
                 "] unsupported operation: more than one element of the written-to tensor refers to a single "
                 "memory location. Please clone() the tensor before performing the operation.");
  }
}

// Writes value (same shape, any dtype, any device) into dst's memory and bumps dst's version counter (an
// inference tensor has none).
void write_values(const Tensor& dst, const Tensor& value) {
  if (dst.numel()) {
    Tensor v = value.device() == dst.device() ? value : value.to(dst.device().str());
    if (v.shares_storage(dst)) v = v.clone();  // x.copy_(x.flip(0)): read everything before writing
    backend(dst.device().type).copy(strided_ref(dst), strided_ref(v), dst.device().index);
  }
  if (!dst.is_inference()) dst.impl().storage->version++;
}

// PyTorch's refusal to update an inference tensor (which has no version counter) outside inference mode.
void check_not_inference(std::string_view op, const Tensor& t) {
  TD_CHECK(!t.is_inference() || autograd::InferenceMode::is_enabled(), ErrorCode::kFailedPrecondition, "[", op,
           "] Inplace update to inference tensor outside InferenceMode is not allowed.You can make a clone to get a "
           "normal tensor before doing inplace update.See https://github.com/pytorch/rfcs/pull/17 for more details.");
}

// Makes t an output of the node that produced `from` (t takes over from's place in the graph).
void take_history(const Tensor& t, const Tensor& from) {
  const autograd::AutogradMeta* m = autograd::meta_if(from);
  TD_CHECK(m && m->grad_fn, ErrorCode::kInternal, "in-place rebase from a tensor without grad_fn");
  autograd::set_history(t, m->grad_fn, m->output_nr);
}

}  // namespace

// After self's memory took `value`: self's gradient flows to value's history. For a view, its base's
// history becomes the old base with the view's region taken from value (PyTorch's CopySlices).
void rebase_history(std::string_view op, const Tensor& self, const Tensor& value) {
  std::shared_ptr<TensorImpl> base_impl = self.impl().view_base.lock();
  if (!base_impl) {
    take_history(self, value);
    return;
  }
  Tensor base(base_impl);
  TD_CHECK(base.is_contiguous() && base.storage_offset() == 0, ErrorCode::kUnimplemented, "[", op,
           "] in-place ops on a view of a non-contiguous tensor are not recorded by autograd yet; clone() the "
           "tensor first");
  std::vector<int64_t> size = self.shape(), stride(self.strides().begin(), self.strides().end());
  Tensor new_base = call_op("as_strided_scatter", {base, value, size, stride, self.storage_offset()})[0];
  take_history(base, new_base);
  take_history(self, call_op("as_strided", {new_base, size, stride, self.storage_offset()})[0]);
}

Tensor apply_inplace(const OpDef& def, Args args) {
  const std::string& op = def.schema.name;
  const Tensor self = args.tensor(0);
  check_not_inference(op, self);
  check_no_internal_overlap(op, self);
  const bool recording = autograd::GradMode::is_enabled() && any_requires_grad(args);
  // Forward-mode AD: self's tangent takes the value's (the direct path below would skip the tangent).
  const bool dual = autograd::forward_ad::detail::propagating() && any_tangent(args);
  Tensor original = self;
  if (recording) {
    std::shared_ptr<TensorImpl> base = self.impl().view_base.lock();
    if (base) {
      Tensor b(base);
      TD_CHECK(!(b.is_leaf() && b.requires_grad()), ErrorCode::kFailedPrecondition, "[", op,
               "] a view of a leaf Variable that requires grad is being used in an in-place operation.");
    }
    TD_CHECK(!(self.is_leaf() && self.requires_grad()), ErrorCode::kFailedPrecondition, "[", op,
             "] a leaf Variable that requires grad is being used in an in-place operation.");
    // The graph keeps the values self had: nodes that read them save this clone, which nothing overwrites.
    original = self.clone();
    args.mutable_value(0) = original;
  } else if (!dual && def.inplace_direct && def.inplace_direct(args)) {
    // Written straight into self (no temporary, no copy): what the optimizers' updates take.
    if (!self.is_inference()) self.impl().storage->version++;
    return self;
  }
  Tensor value = def.inplace(args);
  TD_CHECK_ARG(value.shape() == self.shape(), "[", op, "] output with shape ", shape_str(self.sizes()),
               " doesn't match the broadcast shape ", shape_str(value.sizes()));
  check_castable(op, value.dtype(), self.dtype());
  if (recording) {
    value = ops::cast(value, self.dtype());
    // A value with no gradient (a comparison, a random draw) still gives self a history: zero gradients to
    // every input that requires grad, as PyTorch's eq_ and uniform_ do.
    if (!value.requires_grad()) {
      for (size_t i = 0; i < args.size(); ++i) {
        auto* t = std::get_if<Tensor>(&args.value(i));
        if (t && t->defined() && t->requires_grad()) value = value.add(ops::cast(ops::zeros_linked_to(*t), value.dtype()));
      }
    }
  }
  {
    autograd::NoGradGuard no_grad;
    write_values(self, value);
  }
  if (recording && value.requires_grad()) rebase_history(op, self, value);
  if (dual) write_tangent(self, value);
  return self;
}

std::vector<Tensor> apply_out(std::string_view name, std::vector<Value> values) {
  const OpDef& def = Registry::get().find(name);
  const size_t n = def.schema.returns.size();
  TD_CHECK_ARG(values.size() > n, "[", name, ".out] expects the op's arguments followed by ", n,
               " output tensor(s)");
  std::vector<Tensor> outs;
  for (size_t i = values.size() - n; i < values.size(); ++i) {
    auto* t = std::get_if<Tensor>(&values[i]);
    TD_CHECK_ARG(t && t->defined(), "[", name, ".out] argument 'out' must be a tensor");
    check_not_inference(name, *t);
    outs.push_back(*t);
  }
  values.resize(values.size() - n);
  if (autograd::GradMode::is_enabled()) {
    bool grad = any_requires_grad(Registry::bind(def, values));
    for (const Tensor& o : outs) grad = grad || o.requires_grad();
    TD_CHECK_ARG(!grad, "[", name, "] functions with out=... arguments don't support automatic differentiation, "
                 "but one of the arguments requires grad.");
  }
  std::vector<Tensor> results;
  {
    autograd::NoGradGuard no_grad;
    results = call_op(name, std::move(values));
  }
  for (size_t i = 0; i < n; ++i) {
    Tensor& out = outs[i];
    const Tensor& r = results[i];
    check_castable(name, r.dtype(), out.dtype());
    TD_CHECK_ARG(out.device() == r.device(), "[", name, "] Expected out tensor to have device ", r.device().str(),
                 ", but got out.device() = ", out.device().str());
    if (out.shape() != r.shape()) {
      // A tangent of the old shape cannot stand for the resized tensor.
      if (autograd::forward_ad::detail::propagating()) autograd::forward_ad::detail::set_tangent(out, Tensor());
      // PyTorch's resize_: contiguous strides, the storage grown when it is too small.
      TensorImpl& impl = out.impl();
      impl.sizes = r.shape();
      impl.strides = contiguous_strides(impl.sizes);
      impl.storage->grow(static_cast<size_t>(impl.offset + r.numel()) * itemsize(out.dtype()));
    }
    check_no_internal_overlap(name, out);
    {
      autograd::NoGradGuard no_grad;
      write_values(out, r);
    }
    if (autograd::forward_ad::detail::propagating()) write_tangent(out, r);
  }
  return outs;
}

namespace {

// Registers name_ with name's signature, computing the new value with op `name`.
void def_inplace_of(Registry& r, const std::string& name) {
  const OpDef& functional = r.find(name);
  std::string text = functional.schema.text;
  text.replace(0, name.size(), name + "_");
  OpBuilder b = r.def(text);
  b.doc(str("in-place ", name)).inplace([name](const Args& a) {
    std::vector<Value> values;
    for (size_t i = 0; i < a.size(); ++i) values.push_back(a.value(i));
    return call_op(name, std::move(values))[0];
  });
  // Ops that can write their output into a given tensor take self as that output when nothing records.
  if (functional.forward_into) {
    b.inplace_direct([into = functional.forward_into](const Args& a) { return into(a, a.tensor(0)); });
  }
}

// A value that replaces self without reading it still passes self a zero gradient, as in PyTorch (where
// fill_ and copy_ give the overwritten tensor zeros, not nothing).
Tensor replacing(const Tensor& self, Tensor value) {
  return self.requires_grad() ? value.add(ops::zeros_linked_to(self)) : value;
}

}  // namespace

void register_inplace_ops(Registry& r) {
  for (const char* name :
       {"add", "sub", "mul", "div", "pow", "fmod", "remainder", "floor_divide", "atan2", "bitwise_and", "bitwise_or",
        "bitwise_xor", "logical_and", "logical_or", "logical_xor", "logical_not", "eq", "ne", "lt", "le", "gt",
        "ge", "clamp", "masked_fill", "index_add", "scatter", "scatter_add", "scatter_reduce", "addcmul", "addcdiv", "lerp", "nan_to_num", "index_put", "index_fill", "index_copy", "clamp_min", "clamp_max", "square", "xlogy", "hypot", "true_divide",
#define TD_UNARY_NAME(Name, name) #name,
        TD_FLOAT_UNARY_OPS(TD_UNARY_NAME) TD_ANY_UNARY_OPS(TD_UNARY_NAME)
#undef TD_UNARY_NAME
       }) {
    def_inplace_of(r, name);
  }
  r.def("fill_(Tensor self, Tensor value) -> Tensor")
      .doc("sets every element to value (a number or a 0-dim tensor)")
      .inplace([](const Args& a) {
        const Tensor& self = a.tensor(0);
        const Tensor& v = a.tensor(1);
        TD_CHECK_ARG(v.dim() == 0, "[fill_] fill_ only supports 0-dimension value tensor but got tensor with ",
                     v.dim(), " dimensions.");
        return replacing(self, ops::on_device(v, self.device()).to(self.dtype()).expand(self.shape()));
      });
  r.def("zero_(Tensor self) -> Tensor").doc("sets every element to 0").inplace([](const Args& a) {
    const Tensor& self = a.tensor(0);
    return zeros(self.shape(), {self.dtype(), self.device()});
  });
  r.def("copy_(Tensor self, Tensor src, bool non_blocking=False) -> Tensor")
      .doc("copies src into self, broadcasting it and converting its dtype and device")
      .inplace([](const Args& a) {
        const Tensor& self = a.tensor(0);
        Tensor src = a.tensor(1);
        std::vector<int64_t> shape = ops::broadcast_shapes("copy_", src.sizes(), self.sizes());
        TD_CHECK_ARG(shape == self.shape(), "[copy_] output with shape ", shape_str(self.sizes()),
                     " doesn't match the broadcast shape ", shape_str(shape));
        // non_blocking matters from pinned host memory to a device: the copy and the device-side write into
        // self are queued on the stream in order, and the host does not wait. A device-to-host copy_ waits
        // (the host writes self from the copied bytes).
        if (src.device() != self.device()) src = src.to(self.device().str(), a.bool_at(2) && self.device().is_cuda());
        // copy_ converts any dtype, even float to int: cast here so the castability check passes.
        return replacing(self, ops::cast(src, self.dtype()).expand(self.shape()));
      });
}

}  // namespace td
