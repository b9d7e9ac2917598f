// td::save / td::load: named tensors (a module's or optimizer's state_dict) as a safetensors file, the
// format of Hugging Face's safetensors: an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the raw little-endian data. PyTorch reads it with
// safetensors.torch.load_file.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace td {

/// Named tensors in order, as state_dict() gives them.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

/// Writes the tensors (any device and strides; copied to the host as contiguous) to `path`, with optional
/// string metadata (the header's "__metadata__"). Names must be unique and non-empty.
void save(const NamedTensors& tensors, const std::string& path, const std::map<std::string, std::string>& metadata = {});

/// Reads a safetensors file: the tensors in file order, on `device`. Malformed files are errors naming the
/// problem (INVALID_ARGUMENT); a missing file is NOT_FOUND.
NamedTensors load(const std::string& path, Device device = kCPU);

/// The "__metadata__" strings of a safetensors file.
std::map<std::string, std::string> load_metadata(const std::string& path);

}  // namespace td
