#include "server/checkpoint.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/optim/lr_scheduler.h"
#include "core/optim/optimizer.h"

namespace td::server {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path checkpoint_file(const std::string& data_dir, const std::string& user, const std::string& path, bool create) {
  TD_CHECK(!data_dir.empty(), ErrorCode::kFailedPrecondition,
           "[checkpoint] this server keeps no checkpoints (start it with --data-dir)");
  TD_CHECK_ARG(!path.empty() && path.size() <= 1024, "[checkpoint] a path must be 1 to 1024 characters");
  TD_CHECK_ARG(path.front() != '/', "[checkpoint] path '", path, "' is absolute: paths are relative to your folder");
  size_t start = 0;
  while (start <= path.size()) {
    const size_t end = std::min(path.find('/', start), path.size());
    const std::string part = path.substr(start, end - start);
    TD_CHECK_ARG(!part.empty() && part != "." && part != "..", "[checkpoint] path '", path,
                 "' has an empty, '.' or '..' component");
    for (char c : part) {
      TD_CHECK_ARG(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-', "[checkpoint] path '",
                   path, "' has the character '", std::string(1, c), "': use letters, digits, '.', '_', '-' and '/'");
    }
    start = end + 1;
  }
  const fs::path folder = fs::path(data_dir) / user;
  const fs::path file = folder / path;
  if (create) fs::create_directories(file.parent_path());
  // Symbolic links inside the data directory must not lead out of the user's folder.
  std::error_code ec;
  const fs::path real_folder = fs::weakly_canonical(folder, ec);
  const fs::path real_file = fs::weakly_canonical(file, ec);
  const std::string f = real_folder.string(), r = real_file.string();
  TD_CHECK(!ec && r.size() > f.size() && r.compare(0, f.size(), f) == 0 && r[f.size()] == '/',
           ErrorCode::kPermissionDenied, "[checkpoint] path '", path, "' leads outside your folder");
  return file;
}

namespace {

// JSON has no NaN or infinity (nlohmann writes them as null): such numbers are the strings "nan", "inf" and
// "-inf".
json number_json(double x) {
  if (std::isfinite(x)) return x;
  return std::isnan(x) ? "nan" : x > 0 ? "inf" : "-inf";
}

double number_of(const json& j) {
  if (!j.is_string()) return j.get<double>();
  const std::string s = j.get<std::string>();
  if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (s == "inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  throw Error(ErrorCode::kInvalidArgument, str("[checkpoint] '", s, "' is not a number"));
}

json numbers_json(const std::vector<double>& xs) {
  json out = json::array();
  for (double x : xs) out.push_back(number_json(x));
  return out;
}

std::vector<double> numbers_of(const json& j) {
  std::vector<double> out;
  for (const auto& x : j) out.push_back(number_of(x));
  return out;
}

/// Runs `read` over a state's JSON, turning JSON's own errors (a missing key, a wrong type) into
/// INVALID_ARGUMENT naming the entry.
template <class F>
auto read_json(const std::string& name, F&& read) {
  try {
    return read();
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kInvalidArgument, str("[checkpoint] '", name, "' is malformed: ", e.what()));
  }
}

json option_json(const optim::OptionValue& v) {
  return std::visit(
      [](const auto& x) -> json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, double>) return {{"double", number_json(x)}};
        if constexpr (std::is_same_v<T, int64_t>) return {{"int", x}};
        if constexpr (std::is_same_v<T, bool>) return {{"bool", x}};
        if constexpr (std::is_same_v<T, std::pair<double, double>>) {
          return {{"pair", {number_json(x.first), number_json(x.second)}}};
        }
        if constexpr (std::is_same_v<T, std::string>) return {{"string", x}};
      },
      v);
}

optim::OptionValue option_of(const json& j) {
  if (j.contains("double")) return number_of(j["double"]);
  if (j.contains("int")) return j["int"].get<int64_t>();
  if (j.contains("bool")) return j["bool"].get<bool>();
  if (j.contains("pair")) return std::make_pair(number_of(j["pair"][0]), number_of(j["pair"][1]));
  if (j.contains("string")) return j["string"].get<std::string>();
  throw Error(ErrorCode::kInvalidArgument, str("[checkpoint] unreadable option ", j.dump()));
}

json scheduler_json(const optim::SchedulerState& s) {
  json values = json::object();
  for (const auto& [k, v] : s.values) {
    values[k] = std::visit(
        [](const auto& x) -> json {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, double>) return {{"double", number_json(x)}};
          if constexpr (std::is_same_v<T, int64_t>) return {{"int", x}};
          if constexpr (std::is_same_v<T, bool>) return {{"bool", x}};
          if constexpr (std::is_same_v<T, std::string>) return {{"string", x}};
          if constexpr (std::is_same_v<T, std::vector<double>>) return {{"doubles", numbers_json(x)}};
          if constexpr (std::is_same_v<T, std::vector<int64_t>>) return {{"ints", x}};
        },
        v);
  }
  json children = json::array();
  for (const auto& c : s.schedulers) children.push_back(scheduler_json(c));
  return {{"values", values}, {"schedulers", children}};
}

optim::SchedulerState scheduler_of(const json& j) {
  optim::SchedulerState s;
  for (const auto& [k, v] : j.at("values").items()) {
    if (v.contains("double")) {
      s.values[k] = number_of(v["double"]);
    } else if (v.contains("int")) {
      s.values[k] = v["int"].get<int64_t>();
    } else if (v.contains("bool")) {
      s.values[k] = v["bool"].get<bool>();
    } else if (v.contains("string")) {
      s.values[k] = v["string"].get<std::string>();
    } else if (v.contains("doubles")) {
      s.values[k] = numbers_of(v["doubles"]);
    } else if (v.contains("ints")) {
      s.values[k] = v["ints"].get<std::vector<int64_t>>();
    } else {
      throw Error(ErrorCode::kInvalidArgument, str("[checkpoint] unreadable scheduler value ", k));
    }
  }
  for (const auto& c : j.at("schedulers")) s.schedulers.push_back(scheduler_of(c));
  return s;
}

const std::string& metadata_at(const std::map<std::string, std::string>& metadata, const std::string& name,
                               const char* what) {
  auto it = metadata.find(name);
  TD_CHECK_ARG(it != metadata.end(), "[checkpoint] the file has no ", what, " named '", name, "'");
  return it->second;
}

}  // namespace

void save_optimizer(const optim::Optimizer& optimizer, const std::string& name, NamedTensors& tensors,
                    std::map<std::string, std::string>& metadata) {
  const optim::OptimizerStateDict sd = optimizer.state_dict();
  json groups = json::array();
  for (const auto& g : sd.param_groups) {
    json options = json::object();
    for (const auto& [k, v] : g.options) options[k] = option_json(v);
    groups.push_back({{"params", g.params}, {"options", options}});
  }
  json state = json::object();
  for (const auto& [index, param_state] : sd.state) {
    json entry = json::object();
    const std::string base = str(name, ".state.", index, ".");
    for (const auto& [key, value] : param_state) {
      std::visit(
          [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, Tensor>) {
              tensors.emplace_back(base + key, x);
              entry[key] = {{"tensor", base + key}};
            } else if constexpr (std::is_same_v<T, std::vector<Tensor>>) {
              json names = json::array();
              for (size_t i = 0; i < x.size(); ++i) {
                tensors.emplace_back(str(base, key, ".", i), x[i]);
                names.push_back(str(base, key, ".", i));
              }
              entry[key] = {{"tensors", names}};
            } else if constexpr (std::is_same_v<T, double>) {
              entry[key] = {{"double", number_json(x)}};
            } else if constexpr (std::is_same_v<T, int64_t>) {
              entry[key] = {{"int", x}};
            } else {
              entry[key] = {{"doubles", numbers_json(x)}};
            }
          },
          value);
    }
    state[std::to_string(index)] = entry;
  }
  metadata[name] = json{{"kind", "optimizer"}, {"type", optimizer.type_name()}, {"param_groups", groups},
                        {"state", state}}
                       .dump();
}

namespace {
void read_optimizer(optim::Optimizer& optimizer, const std::string& name, const std::map<std::string, Tensor>& tensors,
                    const std::map<std::string, std::string>& metadata) {
  const json j = json::parse(metadata_at(metadata, name, "optimizer"));
  TD_CHECK_ARG(j.value("kind", "") == "optimizer", "[checkpoint] '", name, "' is not an optimizer's state");
  TD_CHECK_ARG(j.value("type", "") == optimizer.type_name(), "[checkpoint] '", name, "' holds a ",
               j.value("type", "?"), " optimizer's state, not a ", optimizer.type_name(), "'s");
  auto tensor = [&](const std::string& key) {
    auto it = tensors.find(key);
    TD_CHECK_ARG(it != tensors.end(), "[checkpoint] the file has no tensor '", key, "'");
    return it->second;
  };
  optim::OptimizerStateDict sd;
  for (const auto& g : j.at("param_groups")) {
    optim::GroupStateDict group;
    group.params = g.at("params").get<std::vector<int64_t>>();
    for (const auto& [k, v] : g.at("options").items()) group.options[k] = option_of(v);
    sd.param_groups.push_back(std::move(group));
  }
  for (const auto& [index, entry] : j.at("state").items()) {
    optim::ParamState& ps = sd.state[std::stoll(index)];
    for (const auto& [key, v] : entry.items()) {
      if (v.contains("tensor")) {
        ps[key] = tensor(v["tensor"].get<std::string>());
      } else if (v.contains("tensors")) {
        std::vector<Tensor> list;
        for (const auto& n : v["tensors"]) list.push_back(tensor(n.get<std::string>()));
        ps[key] = std::move(list);
      } else if (v.contains("double")) {
        ps[key] = number_of(v["double"]);
      } else if (v.contains("int")) {
        ps[key] = v["int"].get<int64_t>();
      } else {
        ps[key] = numbers_of(v.at("doubles"));
      }
    }
  }
  optimizer.load_state_dict(sd);
}
}  // namespace

void save_scheduler(const optim::LRScheduler& scheduler, const std::string& name,
                    std::map<std::string, std::string>& metadata) {
  json j = scheduler_json(scheduler.state_dict());
  j["kind"] = "scheduler";
  metadata[name] = j.dump();
}

void load_optimizer(optim::Optimizer& optimizer, const std::string& name, const std::map<std::string, Tensor>& tensors,
                    const std::map<std::string, std::string>& metadata) {
  read_json(name, [&] { read_optimizer(optimizer, name, tensors, metadata); });
}

void load_scheduler(optim::LRScheduler& scheduler, const std::string& name,
                    const std::map<std::string, std::string>& metadata) {
  read_json(name, [&] {
    const json j = json::parse(metadata_at(metadata, name, "scheduler"));
    TD_CHECK_ARG(j.value("kind", "") == "scheduler", "[checkpoint] '", name, "' is not a scheduler's state");
    scheduler.load_state_dict(scheduler_of(j));
  });
}

}  // namespace td::server
