// MNIST-format datasets. zlib's gzread reads gzip and plain files alike.
#include "vision/datasets.h"

#include <zlib.h>

#include <filesystem>

#include "core/error.h"

namespace td::vision::datasets {

namespace {
struct GzFile {
  gzFile f;
  ~GzFile() {
    if (f) gzclose(f);
  }
};

uint32_t big_endian(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 | p[3];
}

void read_exact(gzFile f, void* out, size_t n, const std::string& path) {
  auto* dst = static_cast<unsigned char*>(out);
  while (n > 0) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n, 1u << 30));
    const int got = gzread(f, dst, chunk);
    TD_CHECK(got > 0, ErrorCode::kInvalidArgument, "[read_idx] ", path, " ends early or is not readable");
    dst += got;
    n -= static_cast<size_t>(got);
  }
}
}  // namespace

Tensor read_idx(const std::string& path) {
  GzFile file{gzopen(path.c_str(), "rb")};
  TD_CHECK(file.f != nullptr, ErrorCode::kNotFound, "[read_idx] cannot open ", path);
  unsigned char magic[4];
  read_exact(file.f, magic, 4, path);
  // Magic: two zero bytes, the element type (0x08: unsigned byte), the number of dims.
  TD_CHECK(magic[0] == 0 && magic[1] == 0 && magic[2] == 0x08 && magic[3] >= 1 && magic[3] <= 4,
           ErrorCode::kInvalidArgument, "[read_idx] ", path, " is not an unsigned-byte IDX file (magic ",
           static_cast<int>(magic[0]), " ", static_cast<int>(magic[1]), " ", static_cast<int>(magic[2]), " ",
           static_cast<int>(magic[3]), ")");
  std::vector<int64_t> shape;
  int64_t numel = 1;
  for (int d = 0; d < magic[3]; ++d) {
    unsigned char b[4];
    read_exact(file.f, b, 4, path);
    shape.push_back(big_endian(b));
    numel *= shape.back();
  }
  TD_CHECK(numel < (int64_t{1} << 34), ErrorCode::kInvalidArgument, "[read_idx] ", path, " claims shape ",
           shape_str(shape), ", too large");
  Tensor out = empty(shape, {DType::kUInt8});
  if (numel > 0) read_exact(file.f, out.data<uint8_t>(), static_cast<size_t>(numel), path);
  return out;
}

namespace {
// The IDX file `name` under root or root/<dataset>/raw, plain or gzip.
std::string find_file(const std::string& dataset, const std::string& root, const std::string& name) {
  namespace fs = std::filesystem;
  std::vector<fs::path> tried;
  for (const fs::path& dir : {fs::path(root), fs::path(root) / dataset / "raw"}) {
    for (const std::string& suffix : {"", ".gz"}) {
      fs::path p = dir / (name + suffix);
      if (fs::exists(p)) return p.string();
      tried.push_back(p);
    }
  }
  std::string list;
  for (const auto& p : tried) list += (list.empty() ? "" : ", ") + p.string();
  throw Error(ErrorCode::kNotFound, str("[", dataset, "] Dataset not found: none of ", list, " exists"));
}
}  // namespace

MNIST::MNIST(const std::string& root, bool train, std::shared_ptr<transforms::Transform> transform,
             std::shared_ptr<transforms::Transform> target_transform)
    : MNIST("MNIST", root, train, std::move(transform), std::move(target_transform)) {}

MNIST::MNIST(std::string name, const std::string& root, bool train, std::shared_ptr<transforms::Transform> transform,
             std::shared_ptr<transforms::Transform> target_transform)
    : name_(std::move(name)), root_(root), train_(train), transform_(std::move(transform)),
      target_transform_(std::move(target_transform)) {
  const std::string prefix = train ? "train" : "t10k";
  images_ = read_idx(find_file(name_, root, prefix + "-images-idx3-ubyte"));
  targets_ = read_idx(find_file(name_, root, prefix + "-labels-idx1-ubyte"));
  TD_CHECK(images_.dim() == 3 && targets_.dim() == 1 && images_.size(0) == targets_.size(0),
           ErrorCode::kInvalidArgument, "[", name_, "] images ", shape_str(images_.shape()), " and labels ",
           shape_str(targets_.shape()), " do not match");
  targets_ = targets_.to(DType::kInt64);
}

data::Sample MNIST::get(int64_t index) const {
  const int64_t i = data::wrap_sample_index(name_.c_str(), index, size());
  Tensor image = images_.select(0, i);
  Tensor target = targets_.select(0, i);
  return {transform_ ? (*transform_)(image) : image, target_transform_ ? (*target_transform_)(target) : target};
}

data::Sample MNIST::get_batch(const std::vector<int64_t>& indices) const {
  if (transform_ || target_transform_) return Dataset::get_batch(indices);
  std::vector<int64_t> wrapped(indices.size());
  for (size_t k = 0; k < indices.size(); ++k) wrapped[k] = data::wrap_sample_index(name_.c_str(), indices[k], size());
  Tensor idx = tensor(wrapped, {static_cast<int64_t>(wrapped.size())});
  return {images_.index_select(0, idx), targets_.index_select(0, idx)};
}

const std::vector<std::string>& MNIST::classes() const {
  static const std::vector<std::string> names = {"0 - zero", "1 - one", "2 - two",   "3 - three", "4 - four",
                                                 "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"};
  return names;
}

std::string MNIST::repr() const {
  std::string s = str("Dataset ", name_, "\n    Number of datapoints: ", size(), "\n    Root location: ", root_,
                      "\n    Split: ", train_ ? "Train" : "Test");
  if (transform_) {
    // torchvision indents the transform's repr under "StandardTransform".
    std::string t = transform_->repr(), indented;
    for (char c : t) indented += c == '\n' ? std::string("\n               ") : std::string(1, c);
    s += "\n    StandardTransform\nTransform: " + indented;
  }
  return s;
}

FashionMNIST::FashionMNIST(const std::string& root, bool train, std::shared_ptr<transforms::Transform> transform,
                           std::shared_ptr<transforms::Transform> target_transform)
    : MNIST("FashionMNIST", root, train, std::move(transform), std::move(target_transform)) {}

const std::vector<std::string>& FashionMNIST::classes() const {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

}  // namespace td::vision::datasets
