// td::remote: the thin client. A remote::Tensor names a tensor held by a server session and has the same op
// methods as td::Tensor (core/ops/methods.h). Ops are batched and pipelined: nothing waits for the server
// until a value is needed (item, to_vector, sync, backward). Errors of earlier ops surface at that point.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/ops/methods.h"
#include "core/progress_bar.h"
#include "core/scalar.h"
#include "core/value.h"

namespace td::remote {

class SessionState;
class Tensor;

/// One op argument for remote execution.
using Value = BasicValue<Tensor>;

/// A tensor's values copied to the client.
struct HostTensor {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  std::string bytes;  // row-major, little-endian
  /// The values converted to T (float32/float64/int64/bool tensors).
  template <class T>
  std::vector<T> values() const;
};

/// Removes a remote hook (like td::HookHandle).
class RemoteHookHandle {
 public:
  RemoteHookHandle() = default;
  /// A hook the server holds (hook_id in that session).
  RemoteHookHandle(std::weak_ptr<SessionState> session, uint64_t hook_id);
  /// A hook held here, on the client: `remove` takes it out.
  explicit RemoteHookHandle(std::function<void()> remove) : remove_(std::move(remove)) {}
  /// Removes the hook (once; later calls do nothing).
  void remove();

 private:
  std::function<void()> remove_;
};

/// A remote hook: sees the gradient (a remote tensor) and may return a replacement.
using RemoteTensorHook = std::function<std::optional<Tensor>(const Tensor& grad)>;
/// What a built-in gradient-statistics hook reports (computed on the server; NaN and Inf entries are
/// counted and left out of the other numbers).
struct GradStats {
  std::vector<int64_t> shape;
  double min = 0, max = 0, mean = 0, abs_max = 0, norm = 0;
  int64_t nan_count = 0, inf_count = 0;
};
using GradStatsCallback = std::function<void(const GradStats& stats)>;

/// A remote module hook, given two lists: (inputs, {}) for a forward pre-hook, which may return new inputs;
/// (inputs, outputs) for a forward hook, which may return new outputs; (grad_input, grad_output) for a full
/// backward hook, which may return a new grad_input; ({}, grad_output) for a backward pre-hook, which may return
/// a new grad_output. Undefined tensors stand for absent gradients; an undefined tensor in a returned list
/// keeps that entry.
using RemoteModuleHook =
    std::function<std::optional<std::vector<Tensor>>(const std::vector<Tensor>& first, const std::vector<Tensor>& second)>;

/// A handle to a tensor in a server session. Copies share the handle; the last copy releases it.
class Tensor : public TensorMethods<Tensor> {
 public:
  Tensor() = default;
  bool defined() const { return ref_ != nullptr; }
  uint64_t handle() const;

  /// Sends an op with this tensor among args; returns the (not yet computed) output at once.
  Tensor invoke_op(std::string_view op, std::vector<Value> args) const;
  /// The same for an op with n outputs, each with its own handle.
  std::vector<Tensor> invoke_op_n(std::string_view op, std::vector<Value> args, size_t n) const;

  /// Downloads the values (a sync point).
  HostTensor fetch() const;
  template <class T>
  std::vector<T> to_vector() const {
    return fetch().values<T>();
  }
  /// The value of a one-element tensor (a sync point).
  Scalar item() const;
  template <class T>
  T item() const;
  std::vector<int64_t> shape() const { return fetch().shape; }

  /// Marks a leaf as requiring gradients (Tensor.requires_grad_); returns *this.
  const Tensor& requires_grad_(bool requires_grad = true) const;
  /// Runs backward on the server and waits for it; hooks fire on this thread meanwhile.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false, bool create_graph = false) const;
  /// The .grad of this tensor, as a new remote tensor (fails at the next sync point if there is none).
  Tensor grad() const;
  /// Registers a hook that runs here, on the client, each time this tensor's gradient is computed.
  /// Blocking hooks may issue ops and call item(); observe-only hooks cannot replace the gradient.
  RemoteHookHandle register_hook(RemoteTensorHook hook, bool blocking = true) const;
  /// Built-in hooks the server runs itself, with no round trip: statistics of each gradient (delivered to
  /// `fn` on the client at its next sync point), a guard that fails the backward with FAILED_PRECONDITION on
  /// any NaN or Inf, and clipping by value or by 2-norm.
  RemoteHookHandle register_grad_stats_hook(GradStatsCallback fn) const;
  RemoteHookHandle register_nan_guard() const;
  RemoteHookHandle register_clip_value_hook(double clip_value) const;
  RemoteHookHandle register_clip_norm_hook(double max_norm) const;

  struct Ref;
  explicit Tensor(std::shared_ptr<Ref> ref) : ref_(std::move(ref)) {}
  SessionState& state() const;

 private:
  std::shared_ptr<Ref> ref_;
};

/// A session on a tensord server, attached over one stream.
class Session {
 public:
  explicit Session(std::shared_ptr<SessionState> state) : state_(std::move(state)) {}
  ~Session();
  Session(Session&&) = default;
  Session& operator=(Session&&) = default;

  const std::string& id() const;
  const std::string& device() const;

  /// Uploads values (in chunks of at most 1 MiB) and returns the remote tensor.
  template <class T>
  Tensor tensor(const std::vector<T>& values, std::vector<int64_t> shape, bool requires_grad = false);
  Tensor from_bytes(const void* data, size_t nbytes, DType dtype, std::vector<int64_t> shape, bool requires_grad);
  /// Runs an op by name (creation ops like "zeros" take no tensor); returns its first output.
  Tensor op(std::string_view name, std::vector<Value> args);
  /// Sends everything pending and waits until the server has run it; throws the first error since the
  /// previous sync point, if any.
  void sync();
  /// Detaches the stream and closes the session on the server (also done by the destructor).
  void close();
  /// The client-side state (for td::remote::nn and td::remote::optim).
  SessionState& state() const { return *state_; }

 private:
  std::shared_ptr<SessionState> state_;
};

/// The training-loop progress bar (core/progress_bar.h): feed it a loss read every few steps.
using ProgressBar = ::td::ProgressBar;

/// torch.set_grad_enabled(enabled) for a session, as a scope: the ops issued while it lives record autograd
/// graphs on the server only when enabled; the previous mode comes back at its end. Guards nest, on the
/// thread that issues the session's ops.
class GradModeGuard {
 public:
  GradModeGuard(Session& session, bool enabled);
  ~GradModeGuard();
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  Session& session_;
  bool previous_;
};

/// torch.no_grad() for a session: evaluation loops, parameter updates by hand.
class NoGradGuard : public GradModeGuard {
 public:
  explicit NoGradGuard(Session& session) : GradModeGuard(session, false) {}
};

/// torch.enable_grad(): graphs again, inside a NoGradGuard.
class EnableGradGuard : public GradModeGuard {
 public:
  explicit EnableGradGuard(Session& session) : GradModeGuard(session, true) {}
};

/// torch.autograd.forward_ad for a session (the server keeps the session's one dual level): inside a
/// DualLevel, ops on tensors made by make_dual compute their outputs' tangents on the server.
namespace forward_ad {
/// `with dual_level():` for a session: opens its level (a command) and closes it at scope end, which drops
/// every tangent made at it.
class DualLevel {
 public:
  explicit DualLevel(Session& session);
  ~DualLevel();
  DualLevel(const DualLevel&) = delete;
  DualLevel& operator=(const DualLevel&) = delete;

 private:
  Session& session_;
};
/// A view of primal carrying tangent (the registry op _make_dual).
Tensor make_dual(const Tensor& primal, const Tensor& tangent);
struct UnpackedDual {
  Tensor primal;
  Tensor tangent;  // a handle to nothing when the tensor has no tangent: using it fails, as an absent grad()
};
/// The primal and tangent of a dual tensor (the registry op _unpack_dual).
UnpackedDual unpack_dual(const Tensor& tensor);
}  // namespace forward_ad

/// How to reach a server that authenticates (docs/security.md).
/// A session's batch goes out when it holds this many commands (or 1 MiB), and at every sync point.
inline constexpr int kBatchCommands = 2048;

struct ClientOptions {
  /// The bearer token, sent as "authorization: Bearer <token>" on every call; empty: none.
  std::string token;
  /// TLS: on with the given root certificates (PEM; empty means the system's roots).
  bool tls = false;
  std::string tls_root_certs;
  /// The name to check the server's certificate against, when it differs from the target's host.
  std::string tls_server_name;
  /// When a session's stream drops, how long to keep trying to attach again (0: give up at once). A
  /// re-attached session has all its state; commands the server had not received are sent again, none runs
  /// twice, and the events missed meanwhile are replayed.
  std::chrono::milliseconds reconnect_timeout{30000};
};

/// A connection to a tensord server.
class Client {
 public:
  /// Connects to "host:port": a plaintext channel unless options.tls (the server listens on loopback
  /// without authentication by default).
  explicit Client(const std::string& target, const ClientOptions& options = {});
  ~Client();
  /// Opens a session; device "" means the server's default.
  Session create_session(const std::string& name, const std::string& device = "");

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

template <class T>
Tensor Session::tensor(const std::vector<T>& values, std::vector<int64_t> shape, bool requires_grad) {
  static_assert(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>, "use from_bytes for bool tensors");
  constexpr DType dtype = std::is_same_v<T, float>     ? DType::kFloat32
                          : std::is_same_v<T, double>  ? DType::kFloat64
                          : std::is_same_v<T, int64_t> ? DType::kInt64
                          : std::is_same_v<T, int32_t> ? DType::kInt32
                                                       : DType::kUInt8;
  return from_bytes(values.data(), values.size() * sizeof(T), dtype, std::move(shape), requires_grad);
}

}  // namespace td::remote
