// Codecs between the wire types of tensord.proto and core types: dtypes, raw tensor bytes in chunks.
// Shared by server and client; no gRPC here, only protobuf messages.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "core/dtype.h"
#include "core/value.h"
#include "tensord/v1/tensord.pb.h"

namespace td::codec {

namespace pb = ::tensord::v1;

/// Largest payload of one chunk: well under gRPC's default 4 MiB message limit with framing.
inline constexpr size_t kMaxChunkBytes = size_t{1} << 20;

/// HTTP/2 keepalive, the same on both sides so neither sees the other's pings as abuse: the client pings an
/// idle connection every 30 s and gives up after 10 s without an answer; the server accepts pings 20 s apart
/// (less than the client's interval) and pings its clients on the same schedule, so a vanished peer is noticed
/// within ~40 s on either side (a client's session then waits out its grace period).
inline constexpr int kKeepaliveTimeMs = 30000;
inline constexpr int kKeepaliveTimeoutMs = 10000;
inline constexpr int kMinPingIntervalMs = 20000;

pb::DType to_proto(DType t);
/// Throws INVALID_ARGUMENT for DTYPE_UNSPECIFIED or an unknown number.
DType from_proto(pb::DType t);

/// An op argument as the wire carries it. `id_of` names each defined tensor (a handle on the wire, a tensor
/// id in a session snapshot); an undefined tensor is None, and 0 in a tensor list.
template <class TensorT, class IdOf>
void encode_value(const BasicValue<TensorT>& v, pb::Value* out, const IdOf& id_of) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, None>) {
          out->set_none(true);
        } else if constexpr (std::is_same_v<T, TensorT>) {
          if (x.defined()) {
            out->set_tensor(id_of(x));
          } else {
            out->set_none(true);
          }
        } else if constexpr (std::is_same_v<T, Scalar>) {
          if (x.is_bool()) {
            out->set_bool_value(x.to_int() != 0);
          } else if (x.is_integral()) {
            out->set_int_value(x.to_int());
          } else {
            out->set_float_value(x.to_double());
          }
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
          auto* list = out->mutable_int_list();
          for (int64_t i : x) list->add_values(i);
        } else if constexpr (std::is_same_v<T, std::string>) {
          out->set_string_value(x);
        } else if constexpr (std::is_same_v<T, std::vector<TensorT>>) {
          auto* list = out->mutable_tensor_list();
          for (const TensorT& t : x) list->add_handles(t.defined() ? id_of(t) : 0);
        } else {
          out->set_dtype(to_proto(x));
        }
      },
      v);
}

/// Splits `nbytes` at `data` into chunk slices of at most kMaxChunkBytes; calls emit(offset, size, last)
/// once even for zero bytes.
void for_each_chunk(size_t nbytes, const std::function<void(size_t offset, size_t size, bool last)>& emit);

/// The bytes of a tensor of this dtype and shape: INVALID_ARGUMENT for a negative size, RESOURCE_EXHAUSTED
/// when the count overflows.
size_t checked_nbytes(DType dtype, const std::vector<int64_t>& shape);

/// Reassembles a tensor's bytes from ordered chunks, checking offsets and the final size.
class ChunkAssembler {
 public:
  /// Starts from the first chunk's header; fails on a bad dtype or a negative size. Reserves at most
  /// `reserve_limit` bytes ahead (a header from a peer that is not trusted must not size an allocation).
  ChunkAssembler(DType dtype, std::vector<int64_t> shape, size_t reserve_limit = kMaxChunkBytes * 4);
  /// Appends one chunk; it must start where the previous one ended and not overflow.
  void add(uint64_t offset, const std::string& data);
  /// Whether every byte arrived.
  bool complete() const { return bytes_.size() == expected_; }
  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  const std::string& bytes() const { return bytes_; }
  std::string take_bytes() { return std::move(bytes_); }

 private:
  DType dtype_;
  std::vector<int64_t> shape_;
  size_t expected_ = 0;
  std::string bytes_;
};

}  // namespace td::codec
