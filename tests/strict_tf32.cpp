// Linked into every test binary: float32 convolutions in full float32. torch.backends.cudnn.allow_tf32 is
// true by default (core/cudnn.h, as in PyTorch), which lets cuDNN multiply float32 with TF32's 10 mantissa
// bits on an Ampere or newer GPU, far outside the float32 tolerances the tests compare with PyTorch's CPU
// values; PyTorch's own test suite turns it off the same way. (float32 matmuls are full float32 by default
// already: core/matmul_precision.h.)
#include "core/cudnn.h"

namespace {
const bool kStrictTf32 = (td::backends::cudnn::set_allow_tf32(false), true);
}  // namespace
