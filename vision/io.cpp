// Image files through libpng and libjpeg. Both libraries report errors by longjmp: each call sets its jump
// point before any C++ object that owns memory is made, and turns the jump into a td::Error after it.
#include "vision/io.h"

#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "core/error.h"

namespace td::vision::io {

namespace {

const uint8_t* bytes_of(const char* op, const Tensor& data) {
  TD_CHECK_ARG(data.dtype() == DType::kUInt8, "[", op, "] Expected a torch.uint8 tensor");
  TD_CHECK_ARG(data.dim() == 1 && data.numel() > 0, "[", op, "] Expected a non empty 1-dimensional tensor");
  TD_CHECK_ARG(data.device().is_cpu(), "[", op, "] Expected a CPU tensor");
  TD_CHECK_ARG(data.is_contiguous(), "[", op, "] Expected a contiguous tensor");
  return data.data<uint8_t>();
}

// [C, H, W] from interleaved [H, W, C] bytes.
Tensor chw_from_hwc(const std::vector<uint8_t>& pixels, int64_t h, int64_t w, int64_t c) {
  return from_buffer(pixels.data(), {h, w, c}, DType::kUInt8).permute({2, 0, 1}).contiguous();
}

// Interleaved [H, W, C] bytes of a uint8 [C, H, W] image.
std::vector<uint8_t> hwc_of(const Tensor& image) {
  Tensor hwc = image.permute({1, 2, 0}).contiguous().to("cpu");
  return hwc.to_vector<uint8_t>();
}

void check_encode(const char* op, const Tensor& image) {
  TD_CHECK_ARG(image.dtype() == DType::kUInt8, "[", op, "] Input tensor dtype should be uint8");
  TD_CHECK_ARG(image.dim() == 3, "[", op, "] Input data should be a 3-dimensional tensor");
}

}  // namespace

Tensor read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TD_CHECK(in.good(), ErrorCode::kNotFound, "[read_file] No such file or directory: '", path, "'");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  TD_CHECK_ARG(!bytes.empty(), "[read_file] Read file ", path, " with 0 bytes");
  return from_buffer(bytes.data(), {static_cast<int64_t>(bytes.size())}, DType::kUInt8);
}

void write_file(const std::string& path, const Tensor& data) {
  TD_CHECK_ARG(data.dtype() == DType::kUInt8 && data.dim() == 1,
               "[write_file] Input tensor dtype should be "
               "uint8 and 1-dimensional, got ",
               dtype_name(data.dtype()), " ", shape_str(data.sizes()));
  std::vector<uint8_t> bytes = data.contiguous().to("cpu").to_vector<uint8_t>();
  std::ofstream out(path, std::ios::binary);
  TD_CHECK(out.good(), ErrorCode::kPermissionDenied, "[write_file] cannot open '", path, "' for writing");
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  TD_CHECK(out.good(), ErrorCode::kDataLoss, "[write_file] writing '", path, "' failed");
}

// ---- PNG ----

Tensor decode_png(const Tensor& data, ImageReadMode mode) {
  const uint8_t* bytes = bytes_of("decode_png", data);
  TD_CHECK_ARG(data.numel() >= 8 && png_sig_cmp(bytes, 0, 8) == 0, "[decode_png] Content is not png");
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  TD_CHECK_ARG(png_image_begin_read_from_memory(&image, bytes, static_cast<size_t>(data.numel())),
               "[decode_png] ", image.message);
  png_uint_32 format = image.format & (PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA);
  switch (mode) {
    case ImageReadMode::kUnchanged:
      break;
    case ImageReadMode::kGray:
      format = PNG_FORMAT_GRAY;
      break;
    case ImageReadMode::kGrayAlpha:
      format = PNG_FORMAT_GA;
      break;
    case ImageReadMode::kRGB:
      format = PNG_FORMAT_RGB;
      break;
    case ImageReadMode::kRGBAlpha:
      format = PNG_FORMAT_RGBA;
      break;
  }
  image.format = format;
  const int64_t c = PNG_IMAGE_SAMPLE_CHANNELS(format), h = image.height, w = image.width;
  std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(image));
  const int ok = png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr);
  if (!ok) {
    const std::string message = image.message;
    png_image_free(&image);
    throw Error(ErrorCode::kInvalidArgument, "[decode_png] " + message);
  }
  return chw_from_hwc(pixels, h, w, c);
}

namespace {
void png_write_bytes(png_structp png, png_bytep data, png_size_t length) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + length);
}
void png_flush(png_structp) {}
}  // namespace

Tensor encode_png(const Tensor& image, int compression_level) {
  check_encode("encode_png", image);
  TD_CHECK_ARG(compression_level >= 0 && compression_level <= 9,
               "[encode_png] Compression level should be between 0 and 9");
  const int64_t c = image.size(0), h = image.size(1), w = image.size(2);
  TD_CHECK_ARG(c >= 1 && c <= 4, "[encode_png] The number of channels should be 1, 2, 3 or 4, got: ", c);
  const std::vector<uint8_t> pixels = hwc_of(image);
  std::vector<uint8_t> out;
  std::vector<png_bytep> rows(static_cast<size_t>(h));
  for (int64_t y = 0; y < h; ++y)
    rows[static_cast<size_t>(y)] = const_cast<png_bytep>(pixels.data() + y * w * c);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  TD_CHECK(png != nullptr, ErrorCode::kInternal, "[encode_png] png_create_write_struct failed");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw Error(ErrorCode::kInternal, "[encode_png] libpng failed to encode the image");
  }
  png_set_write_fn(png, &out, png_write_bytes, png_flush);
  png_set_compression_level(png, compression_level);
  const int color[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                       PNG_COLOR_TYPE_RGB_ALPHA};
  png_set_IHDR(png, info, static_cast<png_uint_32>(w), static_cast<png_uint_32>(h), 8, color[c - 1],
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return from_buffer(out.data(), {static_cast<int64_t>(out.size())}, DType::kUInt8);
}

void write_png(const Tensor& image, const std::string& path, int compression_level) {
  write_file(path, encode_png(image, compression_level));
}

// ---- JPEG ----

namespace {
struct JpegError {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_fail(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}
}  // namespace

Tensor decode_jpeg(const Tensor& data, ImageReadMode mode) {
  const uint8_t* bytes = bytes_of("decode_jpeg", data);
  TD_CHECK_ARG(
      mode == ImageReadMode::kUnchanged || mode == ImageReadMode::kGray || mode == ImageReadMode::kRGB,
      "[decode_jpeg] The provided mode is not supported for JPEG files");
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = jpeg_fail;
  std::vector<uint8_t> pixels;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    throw Error(ErrorCode::kInvalidArgument, str("[decode_jpeg] ", err.message));
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes, static_cast<unsigned long>(data.numel()));
  jpeg_read_header(&cinfo, TRUE);
  const bool gray = mode == ImageReadMode::kGray ||
                    (mode == ImageReadMode::kUnchanged && cinfo.jpeg_color_space == JCS_GRAYSCALE);
  cinfo.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const int64_t h = cinfo.output_height, w = cinfo.output_width, c = cinfo.output_components;
  pixels.resize(static_cast<size_t>(h * w * c));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = pixels.data() + static_cast<int64_t>(cinfo.output_scanline) * w * c;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return chw_from_hwc(pixels, h, w, c);
}

Tensor encode_jpeg(const Tensor& image, int quality) {
  check_encode("encode_jpeg", image);
  TD_CHECK_ARG(quality >= 1 && quality <= 100,
               "[encode_jpeg] Image quality should be a positive number between "
               "1 and 100");
  const int64_t c = image.size(0), h = image.size(1), w = image.size(2);
  TD_CHECK_ARG(c == 1 || c == 3, "[encode_jpeg] The number of channels should be 1 or 3, got: ", c);
  const std::vector<uint8_t> pixels = hwc_of(image);
  jpeg_compress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = jpeg_fail;
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    std::free(buffer);
    throw Error(ErrorCode::kInternal, str("[encode_jpeg] ", err.message));
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(w);
  cinfo.image_height = static_cast<JDIMENSION>(h);
  cinfo.input_components = static_cast<int>(c);
  cinfo.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(pixels.data() + static_cast<int64_t>(cinfo.next_scanline) * w * c);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  Tensor out = from_buffer(buffer, {static_cast<int64_t>(size)}, DType::kUInt8);
  std::free(buffer);
  return out;
}

void write_jpeg(const Tensor& image, const std::string& path, int quality) {
  write_file(path, encode_jpeg(image, quality));
}

// ---- either ----

Tensor decode_image(const Tensor& data, ImageReadMode mode) {
  const uint8_t* bytes = bytes_of("decode_image", data);
  if (data.numel() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF)
    return decode_jpeg(data, mode);
  if (data.numel() >= 8 && png_sig_cmp(bytes, 0, 8) == 0) return decode_png(data, mode);
  throw Error(ErrorCode::kInvalidArgument,
              "[decode_image] Unsupported image file. Only jpeg and png are currently supported.");
}

Tensor read_image(const std::string& path, ImageReadMode mode) {
  return decode_image(read_file(path), mode);
}

}  // namespace td::vision::io
