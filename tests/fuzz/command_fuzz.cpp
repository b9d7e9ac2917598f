// A fuzzer over the command decoder and executor: bytes become batches of session commands, mostly
// well-formed (real op names with arguments of the kinds their signatures ask for, real module, optimizer
// and scheduler types, handles from a small pool so commands meet each other's outputs) and sometimes not,
// run against a live session. The session must answer every command with a result or an error and never
// crash, hang or leak: after it closes, every byte it allocated is free.
//
// Built two ways:
//  - always, as `command_fuzz`, a standalone driver that makes its inputs from seeded random bytes:
//    `command_fuzz --seed S --runs N` (CTest runs a fixed set of seeds, so CI is deterministic; longer runs
//    with other seeds are for by hand, best in a -DTD_SANITIZE=ON build for ASan and UBSan);
//  - with clang's -fsanitize=fuzzer, LLVMFuzzerTestOneInput is libFuzzer's entry point (-DTD_LIBFUZZER=ON).
// What it finds becomes a regression test in tests/server/.
#include <boost/asio/thread_pool.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <google/protobuf/text_format.h>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "core/nn/factory.h"
#include "core/ops/registry.h"
#include "core/tensor_impl.h"
#include "server/session.h"
#include "tensord/v1/snapshot.pb.h"

namespace td::server {
namespace {

namespace pb = ::tensord::v1;

// Reads choices from the input bytes; past the end every read is 0.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | byte();
    return v;
  }
  /// 0 .. n-1.
  size_t pick(size_t n) { return n ? (n > 255 ? u32() : byte()) % n : 0; }
  bool chance(int percent) { return byte() % 100 < percent; }
  template <class T>
  const T& one_of(const std::vector<T>& v) {
    return v[pick(v.size())];
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

constexpr uint64_t kHandles = 8;  // handles, modules, optimizers, schedulers and hooks: ids 1..8

struct Vocabulary {
  std::vector<const OpDef*> ops = Registry::get().list();
  std::vector<std::string> modules = [] {
    std::vector<std::string> names;
    for (const std::string& sig : nn::module_signatures()) names.push_back(sig.substr(0, sig.find('(')));
    return names;
  }();
  std::vector<std::string> optimizers = {"SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad",
                                         "Adadelta", "LBFGS", "Nope"};
  std::vector<std::string> schedulers = {"StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
                                         "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
                                         "OneCycleLR", "Nope"};
  std::vector<std::string> strings = {"mean", "sum", "none", "reflect", "replicate", "circular", "zeros", "nearest",
                                      "bilinear", "linear", "cpu", "cuda:0", "floor", "trunc", "tanh", "", "bogus",
                                      "weight", "bias", "0.weight", "running_mean", "lr", "momentum", "step_size",
                                      "gamma", "T_max", "max_lr", "total_steps", "milestones", "eps"};
  std::vector<std::string> paths = {"a", "b/c.st", "../x", "/etc/passwd", "a//b", "x y", ""};
};

const Vocabulary& vocabulary() {
  static const Vocabulary v;
  return v;
}

pb::DType random_dtype(Input& in) {
  return static_cast<pb::DType>(in.pick(pb::DType_ARRAYSIZE));
}

int64_t small_int(Input& in) {
  switch (in.pick(8)) {
    case 0: return -1;
    case 1: return 0;
    case 7: return in.chance(50) ? (int64_t{1} << 40) : -(int64_t{1} << 33);
    default: return static_cast<int64_t>(in.pick(6));
  }
}

double random_float(Input& in) {
  switch (in.pick(8)) {
    case 0: return std::nan("");
    case 1: return INFINITY;
    case 2: return -1e300;
    case 3: return 0.0;
    default: return static_cast<double>(static_cast<int>(in.pick(200)) - 100) / 10.0;
  }
}

uint64_t handle(Input& in) {
  return in.chance(5) ? (in.chance(50) ? 0 : (uint64_t{1} << 63) + in.pick(4)) : 1 + in.pick(kHandles);
}

void random_value(Input& in, pb::Value* v, std::optional<ArgType> want) {
  const ArgType type = want && !in.chance(10) ? *want : static_cast<ArgType>(in.pick(10));
  switch (type) {
    case ArgType::kTensor: v->set_tensor(handle(in)); break;
    case ArgType::kScalar:
    case ArgType::kFloat:
      if (in.chance(50)) {
        v->set_float_value(random_float(in));
      } else {
        v->set_int_value(small_int(in));
      }
      break;
    case ArgType::kInt: v->set_int_value(small_int(in)); break;
    case ArgType::kBool: v->set_bool_value(in.chance(50)); break;
    case ArgType::kIntList: {
      auto* list = v->mutable_int_list();
      for (size_t n = in.pick(5); n > 0; --n) list->add_values(in.chance(90) ? static_cast<int64_t>(in.pick(5)) : small_int(in));
      break;
    }
    case ArgType::kScalarType: v->set_dtype(random_dtype(in)); break;
    case ArgType::kDevice:
    case ArgType::kString: v->set_string_value(in.one_of(vocabulary().strings)); break;
    case ArgType::kTensorList: {
      auto* list = v->mutable_tensor_list();
      for (size_t n = in.pick(4); n > 0; --n) list->add_handles(handle(in));
      break;
    }
  }
  if (in.chance(3)) v->Clear();  // no value at all
}

void random_put(Input& in, pb::Command& c) {
  auto* p = c.mutable_put();
  p->set_handle(handle(in));
  p->set_dtype(in.chance(80) ? pb::DTYPE_FLOAT32 : random_dtype(in));
  int64_t numel = 1;
  for (size_t rank = in.pick(4); rank > 0; --rank) {
    const int64_t d = in.chance(95) ? static_cast<int64_t>(in.pick(5)) : small_int(in);
    p->add_shape(d);
    numel *= std::max<int64_t>(d, 0);
  }
  size_t bytes = static_cast<size_t>(std::min<int64_t>(numel, 256)) * 4;
  if (in.chance(10)) bytes = in.pick(64);  // the wrong size
  std::string data(bytes, '\0');
  for (char& ch : data) ch = static_cast<char>(in.byte());
  p->set_data(data);
  if (in.chance(5)) p->set_offset(in.pick(100));
  p->set_last(!in.chance(5));
  p->set_requires_grad(in.chance(40));
  if (in.chance(5)) p->set_device(in.one_of(vocabulary().strings));
}

void random_op(Input& in, pb::Command& c) {
  const OpDef* def = in.one_of(vocabulary().ops);
  auto* op = c.mutable_op();
  op->set_op(in.chance(2) ? "no_such_op" : def->schema.name);
  size_t n = def->schema.args.size();
  if (in.chance(10)) n = in.pick(n + 2);  // too few or too many
  for (size_t i = 0; i < n; ++i) {
    std::optional<ArgType> want;
    if (i < def->schema.args.size()) want = def->schema.args[i].type;
    random_value(in, op->add_args(), want);
  }
  const size_t outs = in.chance(90) ? std::max<size_t>(def->schema.returns.size(), 1) : in.pick(4);
  for (size_t i = 0; i < outs; ++i) op->add_outputs(handle(in));
}

void random_kwargs(Input& in, google::protobuf::RepeatedPtrField<pb::NamedValue>* out) {
  for (size_t n = in.pick(3); n > 0; --n) {
    auto* kv = out->Add();
    kv->set_name(in.one_of(vocabulary().strings));
    random_value(in, kv->mutable_value(), in.chance(50) ? std::optional(ArgType::kFloat) : std::nullopt);
  }
}

pb::Command random_command(Input& in, uint64_t seq) {
  pb::Command c;
  c.set_seq(in.chance(2) ? in.pick(4) : seq);  // sometimes a seq seen before
  const Vocabulary& v = vocabulary();
  switch (in.pick(33)) {
    case 0: case 1: case 2: case 3: random_put(in, c); break;
    case 4: case 5: case 6: case 7: case 8: case 9: case 10: random_op(in, c); break;
    case 11: c.mutable_fetch()->set_handle(handle(in)); c.mutable_fetch()->set_request_id(in.pick(4)); break;
    case 12: c.mutable_release()->add_handles(handle(in)); break;
    case 13: {
      auto* b = c.mutable_backward();
      b->set_tensor(handle(in));
      if (in.chance(30)) b->set_gradient(handle(in));
      b->set_retain_graph(in.chance(50));
      b->set_create_graph(in.chance(20));
      break;
    }
    case 14: {
      auto* h = c.mutable_register_hook();
      h->set_hook_id(1 + in.pick(kHandles));
      h->set_tensor(handle(in));
      h->set_mode(static_cast<pb::HookMode>(in.pick(pb::HookMode_ARRAYSIZE)));
      h->set_builtin(static_cast<pb::BuiltinHook>(in.pick(pb::BuiltinHook_ARRAYSIZE)));
      h->set_clip_value(random_float(in));
      h->set_max_norm(random_float(in));
      break;
    }
    case 15: c.mutable_remove_hook()->set_hook_id(1 + in.pick(kHandles)); break;
    case 16: c.mutable_hook_reply()->set_event_id(in.pick(8)); c.mutable_hook_reply()->set_replacement(handle(in)); break;
    case 17: {
      auto* m = c.mutable_create_module();
      m->set_module(1 + in.pick(kHandles));
      m->set_type(in.one_of(v.modules));
      for (size_t n = in.pick(4); n > 0; --n) random_value(in, m->add_args(), ArgType::kInt);
      random_kwargs(in, m->mutable_kwargs());
      break;
    }
    case 18: {
      auto* m = c.mutable_call_module();
      m->set_module(1 + in.pick(kHandles));
      for (size_t n = 1 + in.pick(2); n > 0; --n) m->add_inputs(handle(in));
      m->add_outputs(handle(in));
      break;
    }
    case 19: {
      auto* m = c.mutable_module_tensor();
      m->set_module(1 + in.pick(kHandles));
      m->set_name(in.one_of(v.strings));
      m->set_output(handle(in));
      break;
    }
    case 20: c.mutable_module_train()->set_module(1 + in.pick(kHandles)); c.mutable_module_train()->set_mode(in.chance(50)); break;
    case 21: {
      auto* m = c.mutable_load_state_dict();
      m->set_module(1 + in.pick(kHandles));
      for (size_t n = in.pick(3); n > 0; --n) {
        m->add_names(in.one_of(v.strings));
        m->add_tensors(handle(in));
      }
      m->set_strict(in.chance(50));
      break;
    }
    case 22: {
      auto* o = c.mutable_create_optimizer();
      o->set_optimizer(1 + in.pick(kHandles));
      o->set_type(in.one_of(v.optimizers));
      for (size_t g = in.pick(3); g > 0; --g) {
        auto* group = o->add_groups();
        for (size_t n = in.pick(3); n > 0; --n) group->add_params(handle(in));
        random_kwargs(in, group->mutable_options());
      }
      random_kwargs(in, o->mutable_defaults());
      break;
    }
    case 23:
      if (in.chance(50)) {
        c.mutable_optimizer_step()->set_optimizer(1 + in.pick(kHandles));
      } else {
        c.mutable_zero_grad()->set_optimizer(1 + in.pick(kHandles));
      }
      break;
    case 24: {
      auto* s = c.mutable_create_scheduler();
      s->set_scheduler(1 + in.pick(kHandles));
      s->set_optimizer(1 + in.pick(kHandles));
      s->set_type(in.one_of(v.schedulers));
      random_kwargs(in, s->mutable_kwargs());
      break;
    }
    case 25: c.mutable_scheduler_step()->set_scheduler(1 + in.pick(kHandles)); break;
    case 26: {
      auto* h = c.mutable_register_module_hook();
      h->set_hook_id(1 + in.pick(kHandles));
      h->set_module(1 + in.pick(kHandles));
      h->set_kind(static_cast<pb::ModuleHookKind>(in.pick(pb::ModuleHookKind_ARRAYSIZE)));
      h->set_mode(static_cast<pb::HookMode>(in.pick(pb::HookMode_ARRAYSIZE)));
      break;
    }
    case 27: {
      auto* p = c.mutable_profiler();
      p->set_action(static_cast<pb::ProfilerCommand::Action>(in.pick(pb::ProfilerCommand::Action_ARRAYSIZE)));
      p->set_profiler(in.pick(3));
      p->set_name(in.one_of(v.strings));
      p->mutable_settings()->set_has_schedule(in.chance(30));
      p->mutable_settings()->set_active(small_int(in));
      p->mutable_settings()->set_record_shapes(in.chance(50));
      p->mutable_settings()->set_profile_memory(in.chance(50));
      break;
    }
    case 28: {
      auto* k = c.mutable_checkpoint();
      k->set_action(static_cast<pb::CheckpointCommand::Action>(in.pick(pb::CheckpointCommand::Action_ARRAYSIZE)));
      k->set_path(in.one_of(v.paths));
      for (size_t n = in.pick(3); n > 0; --n) {
        auto* e = k->add_entries();
        e->set_name(in.one_of(v.strings));
        switch (in.pick(4)) {
          case 0: e->set_module(1 + in.pick(kHandles)); break;
          case 1: e->set_optimizer(1 + in.pick(kHandles)); break;
          case 2: e->set_scheduler(1 + in.pick(kHandles)); break;
          default: break;
        }
      }
      k->set_output(handle(in));
      k->set_tensor(handle(in));
      k->set_strict(in.chance(50));
      break;
    }
    case 29: c.mutable_set_grad_mode()->set_enabled(in.chance(70)); break;
    case 30: {
      auto* h = c.mutable_module_hook_scope();
      h->set_module(1 + in.pick(kHandles));
      h->set_action(static_cast<pb::ModuleHookScopeCommand::Action>(in.pick(pb::ModuleHookScopeCommand::Action_ARRAYSIZE)));
      h->set_scope(in.pick(3));
      for (size_t n = in.pick(3); n > 0; --n) {
        h->add_tensors(handle(in));
        h->add_outputs(handle(in));
      }
      break;
    }
    case 32: c.mutable_set_dual_level()->set_open(in.chance(60)); break;
    default:
      if (in.chance(50)) {
        c.mutable_sync()->set_request_id(in.pick(4));
      } else {
        c.mutable_describe_module()->set_module(1 + in.pick(kHandles));
      }
      break;
  }
  if (in.chance(3)) c.set_hook_event(in.pick(4));
  return c;
}

class CountingSink final : public EventSink {
 public:
  bool send(const pb::ServerMessage&) override {
    ++events;
    return true;
  }
  size_t events = 0;
};

bool g_verbose = false;  // prints each batch before it runs (to find the command that crashes or hangs)

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "command_fuzz: %s\n", what.c_str());
  std::abort();
}

/// Whatever state the batches left must survive a restart (tensord --checkpoint-sessions, --restore): the
/// session is saved and restored into a new one with the same handles. Running out of the session's memory
/// while rebuilding it is the only failure allowed.
void save_and_restore(const std::shared_ptr<Session>& session, const SessionOptions& options,
                      boost::asio::thread_pool& pool, const std::string& data_dir) {
  const std::filesystem::path dir = std::filesystem::path(data_dir) / ".sessions" / "fuzz";
  session->seal();
  try {
    session->save(dir);
  } catch (const std::exception& e) {
    die(std::string("saving the session failed: ") + e.what());
  }
  pb::SessionSnapshot snap;
  std::ifstream in(dir / "snapshot.pb", std::ios::binary);
  if (!snap.ParseFromIstream(&in)) die("the saved snapshot does not parse");
  auto restored = std::make_shared<Session>("fuzz", options, pool, nullptr);
  try {
    restored->restore(snap, dir);
    if (restored->handle_count() != session->handle_count()) {
      die("the restored session has " + std::to_string(restored->handle_count()) + " handles, the saved one " +
          std::to_string(session->handle_count()));
    }
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kResourceExhausted) die(std::string("restoring the session failed: ") + e.what());
  }
  restored->close();
  std::filesystem::remove_all(dir);
}

/// Runs batches on a fresh session, which must free everything when closed. `next` fills the next batch
/// and says whether there was one.
template <class Next>
int64_t run_session(const std::string& data_dir, Next&& next) {
  const int64_t before = memory_allocated(DeviceType::kCPU);
  {
    boost::asio::thread_pool pool(1);
    SessionOptions options;
    options.user = "fuzz";
    options.memory_limit = int64_t{64} << 20;          // a random shape cannot take the machine's memory
    options.hook_timeout = std::chrono::milliseconds(5);  // nobody answers blocking hooks here
    options.data_dir = data_dir;
    auto session = std::make_shared<Session>("fuzz", options, pool, nullptr);
    CountingSink sink;
    session->attach(&sink);
    for (pb::CommandBatch batch; next(batch); batch.Clear()) {
      if (g_verbose) {
        std::fprintf(stderr, "batch: %s\n", batch.ShortDebugString().c_str());
        pb::CommandBatch back;
        if (!google::protobuf::TextFormat::ParseFromString(batch.ShortDebugString(), &back) ||
            back.SerializeAsString() != batch.SerializeAsString()) {
          std::fprintf(stderr, "command_fuzz: this batch does not survive the text format: %s\n",
                       batch.DebugString().c_str());
        }
      }
      session->run_inline(batch);
    }
    save_and_restore(session, options, pool, data_dir);
    session->close();
    pool.join();
  }
  return memory_allocated(DeviceType::kCPU) - before;
}

void check_no_leak(int64_t leaked) {
  if (leaked == 0) return;
  std::fprintf(stderr, "command_fuzz: %lld bytes of tensor storage left after the session closed\n",
               static_cast<long long>(leaked));
  std::abort();
}

/// One input: batches of commands made from the bytes.
void run_one(const uint8_t* data, size_t size, const std::string& data_dir) {
  Input in(data, size);
  uint64_t seq = 1;
  check_no_leak(run_session(data_dir, [&](pb::CommandBatch& batch) {
    for (size_t n = 1 + in.pick(16); n > 0 && !in.done(); --n) *batch.add_commands() = random_command(in, seq++);
    return batch.commands_size() > 0;
  }));
}

/// Batches in protobuf text format, one per line ("batch: " prefixes, as --verbose prints, are skipped): a
/// failing input, written down, cut down by hand, replayed.
std::vector<pb::CommandBatch> read_batches(const std::string& path) {
  std::ifstream in(path);
  std::vector<pb::CommandBatch> batches;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("batch: ")) line = line.substr(7);
    if (line.empty()) continue;
    pb::CommandBatch batch;
    if (!google::protobuf::TextFormat::ParseFromString(line, &batch)) {
      std::fprintf(stderr, "command_fuzz: cannot parse %s\n", line.c_str());
      std::exit(2);
    }
    batches.push_back(std::move(batch));
  }
  return batches;
}

int64_t run_batches(const std::vector<pb::CommandBatch>& batches, const std::string& data_dir) {
  size_t i = 0;
  return run_session(data_dir, [&](pb::CommandBatch& batch) {
    if (i == batches.size()) return false;
    batch = batches[i++];
    return true;
  });
}

void replay(const std::string& path, const std::string& data_dir) {
  check_no_leak(run_batches(read_batches(path), data_dir));
}

/// Cuts a leaking input down, one command at a time while it still leaks, and prints what is left.
void minimize(const std::string& path, const std::string& data_dir) {
  std::vector<pb::CommandBatch> batches = read_batches(path);
  if (run_batches(batches, data_dir) == 0) {
    std::fprintf(stderr, "command_fuzz: this input does not leak\n");
    return;
  }
  for (size_t b = 0; b < batches.size(); ++b) {
    for (int c = batches[b].commands_size() - 1; c >= 0; --c) {
      std::vector<pb::CommandBatch> trial = batches;
      trial[b].mutable_commands()->DeleteSubrange(c, 1);
      if (run_batches(trial, data_dir) != 0) batches = std::move(trial);
    }
  }
  for (const auto& batch : batches) {
    if (batch.commands_size()) std::printf("batch: %s\n", batch.ShortDebugString().c_str());
  }
}

std::string fuzz_data_dir() {
  static const std::string dir = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tensord-fuzz-XXXXXX").string();
    return std::string(mkdtemp(tmpl.data()));
  }();
  return dir;
}

}  // namespace
}  // namespace td::server

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  td::server::run_one(data, size, td::server::fuzz_data_dir());
  return 0;
}

#ifndef TD_LIBFUZZER
int main(int argc, char** argv) {
  uint64_t seed = 1, runs = 100, first = 0;
  size_t bytes = 2048;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--seed") {
      seed = std::stoull(argv[i + 1]);
    } else if (flag == "--runs") {
      runs = std::stoull(argv[i + 1]);
    } else if (flag == "--first") {
      first = std::stoull(argv[i + 1]);
    } else if (flag == "--verbose") {
      td::server::g_verbose = std::string(argv[i + 1]) == "1";
    } else if (flag == "--minimize") {
      td::server::minimize(argv[i + 1], td::server::fuzz_data_dir());
      return 0;
    } else if (flag == "--replay") {
      td::server::replay(argv[i + 1], td::server::fuzz_data_dir());
      std::fprintf(stderr, "command_fuzz: replayed, no crash, no leak\n");
      return 0;
    } else if (flag == "--bytes") {
      bytes = std::stoull(argv[i + 1]);
    } else {
      std::cerr << "usage: command_fuzz [--seed S] [--runs N] [--first R] [--bytes B] [--verbose 1] | --replay FILE | --minimize FILE\n";
      return 2;
    }
  }
  const std::string dir = td::server::fuzz_data_dir();
  (void)td::server::vocabulary();  // built before any session measures its memory
  for (uint64_t r = first; r < first + runs; ++r) {
    std::mt19937_64 rng(seed * 1000003 + r);
    std::vector<uint8_t> input(bytes);
    for (auto& b : input) b = static_cast<uint8_t>(rng());
    std::fprintf(stderr, "command_fuzz: seed %llu run %llu%s", static_cast<unsigned long long>(seed),
                 static_cast<unsigned long long>(r), td::server::g_verbose ? "\n" : "\r");
    td::server::run_one(input.data(), input.size(), dir);
  }
  std::filesystem::remove_all(dir);
  std::fprintf(stderr, "\ncommand_fuzz: %llu inputs, no crash, no leak\n", static_cast<unsigned long long>(runs));
  return 0;
}
#endif
