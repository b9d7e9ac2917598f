#include "proto/codec.h"

#include "core/error.h"

namespace td::codec {

pb::DType to_proto(DType t) { return static_cast<pb::DType>(static_cast<int>(t) + 1); }

DType from_proto(pb::DType t) {
  int v = static_cast<int>(t);
  TD_CHECK_ARG(v >= 1 && v <= kNumDTypes, "[codec] dtype ", v, " is not a tensord.v1.DType (1..", kNumDTypes, ")");
  return static_cast<DType>(v - 1);
}

void for_each_chunk(size_t nbytes, const std::function<void(size_t, size_t, bool)>& emit) {
  size_t offset = 0;
  do {
    size_t n = std::min(kMaxChunkBytes, nbytes - offset);
    emit(offset, n, offset + n == nbytes);
    offset += n;
  } while (offset < nbytes);
}

size_t checked_nbytes(DType dtype, const std::vector<int64_t>& shape) {
  size_t n = itemsize(dtype);
  for (int64_t s : shape) {
    TD_CHECK_ARG(s >= 0, "[put] negative dimension ", s, " in shape ", shape_str(shape));
    TD_CHECK(!__builtin_mul_overflow(n, static_cast<size_t>(s), &n), ErrorCode::kResourceExhausted,
             "[put] a ", dtype_name(dtype), " tensor of shape ", shape_str(shape), " does not fit in memory");
  }
  return n;
}

ChunkAssembler::ChunkAssembler(DType dtype, std::vector<int64_t> shape, size_t reserve_limit)
    : dtype_(dtype), shape_(std::move(shape)), expected_(checked_nbytes(dtype_, shape_)) {
  bytes_.reserve(std::min(expected_, reserve_limit));
}

void ChunkAssembler::add(uint64_t offset, const std::string& data) {
  TD_CHECK_ARG(offset == bytes_.size(), "[put] chunk at offset ", offset, " but ", bytes_.size(),
               " bytes arrived so far");
  TD_CHECK_ARG(bytes_.size() + data.size() <= expected_, "[put] chunks overflow a ", dtype_name(dtype_), " tensor of shape ",
               shape_str(shape_), " (", expected_, " bytes)");
  bytes_.append(data);
}

}  // namespace td::codec
