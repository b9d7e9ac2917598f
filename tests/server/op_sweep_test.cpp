// Every registry op through the wire (issue 6): each op runs in-process and on a server session over
// loopback with the same arguments, built from its signature, and must give the same outputs (dtype, shape,
// bytes) or fail with the same status and message. Ops that draw random numbers or return uninitialised
// memory are left out. No per-op code: a new op is swept by being registered.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "client/remote.h"
#include "core/ops/registry.h"
#include "core/tensor.h"
#include "server/server.h"
#include "tests/server/server_test_util.h"

namespace td {
namespace {

bool nondeterministic(std::string_view name) {
  for (std::string_view word : {"rand", "dropout", "bernoulli", "multinomial", "poisson", "rrelu", "fractional", "empty"}) {
    if (name.find(word) != std::string_view::npos) return true;
  }
  for (std::string_view prefix : {"normal", "uniform_", "exponential_", "geometric_", "cauchy_", "log_normal_", "random_"}) {
    if (name.starts_with(prefix)) return true;
  }
  return false;
}

// The same argument list on both sides: tensors are fresh copies of one 2x3 float tensor, everything else
// a plain value that fits most signatures. Arguments with defaults are left to them.
template <class TensorT, class MakeTensor>
std::optional<std::vector<BasicValue<TensorT>>> sample_args(const Schema& schema, const MakeTensor& make) {
  std::vector<BasicValue<TensorT>> args;
  for (const ArgSpec& a : schema.args) {
    if (a.default_value) break;
    if (a.optional) {
      args.emplace_back(None{});
      continue;
    }
    switch (a.type) {
      case ArgType::kTensor: args.emplace_back(make()); break;
      case ArgType::kTensorList: args.emplace_back(std::vector<TensorT>{make(), make()}); break;
      case ArgType::kScalar:
      case ArgType::kFloat: args.emplace_back(Scalar(0.5)); break;
      case ArgType::kInt: args.emplace_back(Scalar(int64_t{1})); break;
      case ArgType::kIntList:
        if (a.name == "size" || a.name == "shape") {
          args.emplace_back(std::vector<int64_t>{2, 3});
        } else {
          args.emplace_back(std::vector<int64_t>(a.list_size > 0 ? static_cast<size_t>(a.list_size) : 1, 1));
        }
        break;
      case ArgType::kBool: args.emplace_back(Scalar(false)); break;
      case ArgType::kScalarType: args.emplace_back(DType::kFloat32); break;
      case ArgType::kDevice: args.emplace_back(std::string("cpu")); break;
      case ArgType::kString: args.emplace_back(std::string(a.name == "equation" ? "ij->ji" : "mean")); break;
    }
  }
  return args;
}

TEST(OpSweep, EveryRegistryOpGivesTheSameResultOrErrorThroughTheWire) {
  server::Server server(testing::loopback_server_options());
  remote::Client client("127.0.0.1:" + std::to_string(server.port()));
  remote::Session s = client.create_session("sweep", "cpu");
  const std::vector<float> values = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
  int ran = 0, failed_alike = 0, skipped = 0;
  std::vector<std::string> mismatches;
  for (const OpDef* def : Registry::get().list()) {
    const std::string& name = def->schema.name;
    if (nondeterministic(name)) {
      ++skipped;
      continue;
    }
    auto local_args = sample_args<Tensor>(def->schema, [&] { return tensor(values, {2, 3}); });
    auto wire_args = sample_args<remote::Tensor>(def->schema, [&] { return s.tensor<float>(values, {2, 3}); });
    std::vector<Tensor> local;
    std::optional<Error> local_error;
    try {
      local = call_op(name, *local_args);
    } catch (const Error& e) {
      local_error = e;
    }
    const size_t n = local_error ? std::max<size_t>(1, def->schema.returns.size()) : local.size();
    const remote::Tensor any = s.tensor<float>({0}, {1});
    std::vector<remote::Tensor> wire;
    std::optional<Error> wire_error;
    try {
      wire = any.invoke_op_n(name, *wire_args, n);
      s.sync();
    } catch (const Error& e) {
      wire_error = e;
    }
    auto differ = [&](const std::string& why) { mismatches.push_back(name + ": " + why); };
    if (local_error || wire_error) {
      if (!local_error) {
        differ(str("fails only through the wire: ", wire_error->what()));
      } else if (!wire_error) {
        differ(str("fails only in-process: ", local_error->what()));
      } else if (local_error->code() != wire_error->code() ||
                 std::string(local_error->what()) != std::string(wire_error->what())) {
        differ(str("fails differently: '", local_error->what(), "' in-process, '", wire_error->what(), "' remotely"));
      } else {
        ++failed_alike;
      }
      continue;
    }
    bool same = true;
    for (size_t i = 0; i < local.size() && same; ++i) {
      if (!local[i].defined()) continue;
      const Tensor want = local[i].to("cpu").contiguous();
      const remote::HostTensor got = wire[i].fetch();
      if (got.dtype != want.dtype() || got.shape != want.shape()) {
        differ(str("output ", i, " is ", dtype_name(got.dtype), shape_str(got.shape), " remotely, ", dtype_name(want.dtype()),
                   shape_str(want.shape()), " in-process"));
        same = false;
      } else if (got.bytes.size() != want.nbytes() || std::memcmp(got.bytes.data(), want.data_ptr(), want.nbytes()) != 0) {
        differ(str("output ", i, " has other values remotely"));
        same = false;
      }
    }
    ran += same;
  }
  EXPECT_THAT(mismatches, ::testing::IsEmpty());
  // The sweep means something only if most ops ran: sample arguments that fit no signature would make
  // every op fail alike.
  const int total = ran + failed_alike + static_cast<int>(mismatches.size());
  EXPECT_GE(ran, total / 2) << ran << " ran, " << failed_alike << " failed alike, " << skipped << " skipped";
  std::printf("op sweep: %d ops gave the same outputs, %d failed alike, %zu differed, %d skipped as random\n", ran,
              failed_alike, mismatches.size(), skipped);
}

}  // namespace
}  // namespace td
