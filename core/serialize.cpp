// safetensors reading and writing. The header is checked as the reference implementation checks it: known
// dtypes, shapes matching their byte ranges, and ranges that tile the data section exactly, in order.
#include "core/serialize.h"

#include <algorithm>
#include <tuple>
#include <bit>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"

namespace td {

namespace {

using nlohmann::json;

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

// safetensors' dtype names.
const char* st_name(DType t) {
  switch (t) {
    case DType::kBool: return "BOOL";
    case DType::kUInt8: return "U8";
    case DType::kInt8: return "I8";
    case DType::kInt16: return "I16";
    case DType::kInt32: return "I32";
    case DType::kInt64: return "I64";
    case DType::kFloat16: return "F16";
    case DType::kBFloat16: return "BF16";
    case DType::kFloat32: return "F32";
    case DType::kFloat64: return "F64";
    case DType::kComplex64: return "C64";
    case DType::kComplex128: return "C128";
  }
  return "?";
}

DType from_st_name(const std::string& name, const std::string& path) {
  for (int i = 0; i < kNumDTypes; ++i) {
    const auto t = static_cast<DType>(i);
    if (name == st_name(t)) return t;
  }
  throw Error(ErrorCode::kInvalidArgument, str("[load] ", path, ": unsupported safetensors dtype '", name, "'"));
}

std::ifstream open_checked(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TD_CHECK(in.good(), ErrorCode::kNotFound, "[load] cannot open ", path);
  return in;
}

// The header's JSON and the data section's offset in the file.
std::pair<json, uint64_t> read_header(std::ifstream& in, const std::string& path) {
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  unsigned char len_bytes[8];
  TD_CHECK(file_size >= 8 && in.read(reinterpret_cast<char*>(len_bytes), 8), ErrorCode::kInvalidArgument, "[load] ",
           path, " is too short to be a safetensors file (", file_size, " bytes)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | len_bytes[i];
  TD_CHECK(n <= file_size - 8 && n <= (uint64_t{100} << 20), ErrorCode::kInvalidArgument, "[load] ", path,
           ": header length ", n, " does not fit the file of ", file_size, " bytes");
  std::string text(n, '\0');
  in.read(text.data(), static_cast<std::streamsize>(n));
  json header = json::parse(text, nullptr, /*allow_exceptions=*/false);
  TD_CHECK(!header.is_discarded() && header.is_object(), ErrorCode::kInvalidArgument, "[load] ", path,
           ": the header is not a JSON object");
  return {std::move(header), 8 + n};
}

}  // namespace

void save(const NamedTensors& tensors, const std::string& path, const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  std::vector<Tensor> host;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    TD_CHECK_ARG(!name.empty() && name != "__metadata__", "[save] invalid tensor name '", name, "'");
    TD_CHECK_ARG(names.insert(name).second, "[save] the name '", name, "' appears twice");
    TD_CHECK_ARG(t.defined(), "[save] tensor '", name, "' is undefined");
    Tensor c = t.detach().to("cpu").contiguous();
    const uint64_t bytes = static_cast<uint64_t>(c.numel()) * itemsize(c.dtype());
    header[name] = {{"dtype", st_name(c.dtype())}, {"shape", c.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    host.push_back(std::move(c));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  TD_CHECK(out.good(), ErrorCode::kInvalidArgument, "[save] cannot write ", path);
  unsigned char len_bytes[8];
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(text.size() >> (8 * i));
  out.write(reinterpret_cast<const char*>(len_bytes), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const Tensor& c : host) {
    out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.numel() * static_cast<int64_t>(itemsize(c.dtype()))));
  }
  TD_CHECK(out.good(), ErrorCode::kInternal, "[save] writing ", path, " failed");
}

NamedTensors load(const std::string& path, Device device) {
  std::ifstream in = open_checked(path);
  auto [header, data_start] = read_header(in, path);
  in.seekg(0, std::ios::end);
  const uint64_t data_size = static_cast<uint64_t>(in.tellg()) - data_start;
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  for (auto& [name, spec] : header.items()) {
    if (name == "__metadata__") continue;
    auto bad = [&](const std::string& what) {
      return Error(ErrorCode::kInvalidArgument, str("[load] ", path, ": tensor '", name, "' ", what));
    };
    if (!spec.is_object() || !spec.contains("dtype") || !spec.contains("shape") || !spec.contains("data_offsets")) {
      throw bad("needs dtype, shape and data_offsets");
    }
    Entry e{name, from_st_name(spec["dtype"].get<std::string>(), path), spec["shape"].get<std::vector<int64_t>>(), 0, 0};
    const auto offsets = spec["data_offsets"].get<std::vector<uint64_t>>();
    if (offsets.size() != 2 || offsets[0] > offsets[1]) throw bad("has malformed data_offsets");
    e.begin = offsets[0];
    e.end = offsets[1];
    uint64_t numel = 1;
    for (int64_t s : e.shape) {
      if (s < 0) throw bad("has a negative size in shape " + shape_str(e.shape));
      numel *= static_cast<uint64_t>(s);
    }
    if (numel * itemsize(e.dtype) != e.end - e.begin) {
      throw bad(str("of shape ", shape_str(e.shape), " and dtype ", st_name(e.dtype), " needs ", numel * itemsize(e.dtype),
                    " bytes, its range holds ", e.end - e.begin));
    }
    entries.push_back(std::move(e));
  }
  // By range, empty ones (begin == end) before the tensor that starts where they sit.
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  uint64_t expected = 0;
  for (const Entry& e : entries) {
    TD_CHECK(e.begin == expected, ErrorCode::kInvalidArgument, "[load] ", path, ": tensor '", e.name,
             "' starts at byte ", e.begin, " of the data, expected ", expected, " (ranges must tile the data)");
    expected = e.end;
  }
  TD_CHECK(expected == data_size, ErrorCode::kInvalidArgument, "[load] ", path, ": the tensors cover ", expected,
           " bytes of a data section of ", data_size);
  NamedTensors out;
  for (const Entry& e : entries) {
    Tensor t = empty(e.shape, {e.dtype});
    in.seekg(static_cast<std::streamoff>(data_start + e.begin));
    in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(e.end - e.begin));
    TD_CHECK(in.good() || e.end == e.begin, ErrorCode::kInvalidArgument, "[load] ", path, " ends inside tensor '",
             e.name, "'");
    out.emplace_back(e.name, device.is_cpu() ? t : t.to(device.str()));
  }
  return out;
}

std::map<std::string, std::string> load_metadata(const std::string& path) {
  std::ifstream in = open_checked(path);
  auto [header, data_start] = read_header(in, path);
  if (!header.contains("__metadata__")) return {};
  return header["__metadata__"].get<std::map<std::string, std::string>>();
}

}  // namespace td
