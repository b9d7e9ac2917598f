// MNIST-format datasets. zlib's gzread reads gzip and plain files alike.
#include "vision/datasets.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "core/error.h"
#include "vision/io.h"

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
    for (const char* suffix : {"", ".gz"}) {
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

// ---- ImageFolder ----

const std::vector<std::string>& image_extensions() {
  static const std::vector<std::string> ext = {".jpg", ".jpeg", ".png", ".ppm", ".bmp",
                                               ".pgm", ".tif",  ".tiff", ".webp"};
  return ext;
}

namespace {
std::string indent_transform(const transforms::Transform& t) {
  std::string out;
  for (char c : t.repr()) out += c == '\n' ? std::string("\n               ") : std::string(1, c);
  return out;
}

bool has_extension(const std::string& name, const std::vector<std::string>& extensions) {
  std::string lower = name;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& e : extensions) {
    if (lower.size() >= e.size() && lower.compare(lower.size() - e.size(), e.size(), e) == 0) return true;
  }
  return false;
}

// sorted(os.walk(dir, followlinks=True)), as torchvision's make_dataset: every folder under dir ordered by its
// path string, each one's files by name (Python sorts str by code point: byte order for UTF-8).
void walk(const std::filesystem::path& dir, const std::vector<std::string>& extensions, int64_t target,
          std::vector<std::pair<std::string, int64_t>>& out) {
  namespace fs = std::filesystem;
  std::vector<std::string> dirs = {dir.string()};
  for (const auto& entry : fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink)) {
    if (entry.is_directory()) dirs.push_back(entry.path().string());
  }
  std::sort(dirs.begin(), dirs.end());
  for (const auto& d : dirs) {
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(d)) {
      if (!entry.is_directory()) files.push_back(entry.path().filename().string());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      if (has_extension(f, extensions)) out.emplace_back((fs::path(d) / f).string(), target);
    }
  }
}
}  // namespace

ImageFolder::ImageFolder(std::string root, std::shared_ptr<transforms::Transform> transform,
                         std::shared_ptr<transforms::Transform> target_transform, Loader loader,
                         std::vector<std::string> extensions)
    : root_(std::move(root)), transform_(std::move(transform)), target_transform_(std::move(target_transform)),
      loader_(loader ? std::move(loader) : Loader([](const std::string& path) {
        return io::read_image(path, io::ImageReadMode::kRGB);
      })) {
  namespace fs = std::filesystem;
  TD_CHECK(fs::is_directory(root_), ErrorCode::kNotFound, "[ImageFolder] Couldn't find any class folder in ",
           root_, ".");
  for (const auto& entry : fs::directory_iterator(root_)) {
    if (entry.is_directory()) classes_.push_back(entry.path().filename().string());
  }
  std::sort(classes_.begin(), classes_.end());
  TD_CHECK(!classes_.empty(), ErrorCode::kNotFound, "[ImageFolder] Couldn't find any class folder in ", root_, ".");
  for (size_t i = 0; i < classes_.size(); ++i) class_to_idx_[classes_[i]] = static_cast<int64_t>(i);
  std::vector<std::string> empty;
  for (size_t i = 0; i < classes_.size(); ++i) {
    const size_t before = samples_.size();
    walk(fs::path(root_) / classes_[i], extensions, static_cast<int64_t>(i), samples_);
    if (samples_.size() == before) empty.push_back(classes_[i]);
  }
  if (!empty.empty()) {
    std::string names, exts;
    for (const auto& e : empty) names += (names.empty() ? "" : ", ") + e;
    for (const auto& e : extensions) exts += (exts.empty() ? "" : ", ") + e;
    throw Error(ErrorCode::kNotFound, str("[ImageFolder] Found no valid file for the classes ", names,
                                          ". Supported extensions are: ", exts));
  }
}

data::Sample ImageFolder::get(int64_t index) const {
  const int64_t i = data::wrap_sample_index("ImageFolder", index, size());
  const auto& [path, target] = samples_[static_cast<size_t>(i)];
  Tensor image = loader_(path);
  Tensor t = scalar_tensor(Scalar(target), DType::kInt64);
  return {transform_ ? (*transform_)(image) : image, target_transform_ ? (*target_transform_)(t) : t};
}

std::vector<int64_t> ImageFolder::targets() const {
  std::vector<int64_t> t;
  for (const auto& s : samples_) t.push_back(s.second);
  return t;
}

std::string ImageFolder::repr() const {
  std::string s = str("Dataset ImageFolder\n    Number of datapoints: ", size(), "\n    Root location: ", root_);
  if (transform_ || target_transform_) {
    s += "\n    StandardTransform";
    if (transform_) s += "\nTransform: " + indent_transform(*transform_);
    if (target_transform_) s += "\nTarget transform: " + indent_transform(*target_transform_);
  }
  return s;
}

}  // namespace td::vision::datasets
