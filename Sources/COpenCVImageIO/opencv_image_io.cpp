// Image files through imgcodecs, every exception caught (see opencv_image_io.h).
#include "opencv_image_io.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>
#include <algorithm>

namespace {
void set_error(agb_error *err, const std::string &message) {
  if (err != nullptr) std::snprintf(err->message, sizeof(err->message), "%s", message.c_str());
}

// A packed image as BGR (the pixels themselves when already BGR, else a converted copy).
cv::Mat as_bgr(const agb_image *image) {
  if (image == nullptr || image->data == nullptr) throw std::invalid_argument("null argument");
  if (image->chroma != AGB_CHROMA_NONE) throw std::invalid_argument("writing planar YUV frames is not supported");
  if (image->width <= 0 || image->height <= 0) throw std::invalid_argument("empty image");
  int channels = 4, code = -1;
  switch (image->format) {
    case AGB_PIXEL_BGR: channels = 3; break;
    case AGB_PIXEL_RGB: channels = 3; code = cv::COLOR_RGB2BGR; break;
    case AGB_PIXEL_GRAY8: channels = 1; code = cv::COLOR_GRAY2BGR; break;
    case AGB_PIXEL_BGRX:
    case AGB_PIXEL_BGRA: code = cv::COLOR_BGRA2BGR; break;
    case AGB_PIXEL_RGBX:
    case AGB_PIXEL_RGBA: code = cv::COLOR_RGBA2BGR; break;
    default: throw std::invalid_argument("writing this pixel format is not supported");
  }
  if (image->stride < image->width * channels) throw std::invalid_argument("stride shorter than a row");
  cv::Mat src(image->height, image->width, CV_8UC(channels), image->data, (size_t)image->stride);
  if (code < 0) return src;
  cv::Mat bgr;
  cv::cvtColor(src, bgr, code);
  return bgr;
}
}  // namespace

extern "C" {

int32_t agb_read_image(const char *path, uint8_t **pixels, int32_t *width, int32_t *height, agb_error *err) {
  try {
    if (path == nullptr || pixels == nullptr || width == nullptr || height == nullptr)
      throw std::invalid_argument("null argument");
    cv::Mat image = cv::imread(path, cv::IMREAD_COLOR);
    if (image.empty()) throw std::runtime_error(std::string("cannot read image ") + path);
    const size_t bytes = (size_t)image.cols * image.rows * 3;
    auto *copy = static_cast<uint8_t *>(std::malloc(bytes));
    if (copy == nullptr) throw std::bad_alloc();
    cv::Mat view(image.rows, image.cols, CV_8UC3, copy);
    image.copyTo(view);
    *pixels = copy;
    *width = image.cols;
    *height = image.rows;
    return 0;
  } catch (const std::exception &e) {
    set_error(err, e.what());
  } catch (...) {
    set_error(err, "unknown C++ exception");
  }
  return -1;
}

int32_t agb_write_image(const char *path, const agb_image *image, agb_error *err) {
  try {
    if (path == nullptr) throw std::invalid_argument("null argument");
    const cv::Mat bgr = as_bgr(image);
    if (!cv::imwrite(path, bgr)) throw std::runtime_error(std::string("cannot write image ") + path);
    return 0;
  } catch (const std::exception &e) {
    set_error(err, e.what());
  } catch (...) {
    set_error(err, "unknown C++ exception");
  }
  return -1;
}

int32_t agb_encode_image(const agb_image *image, const char *extension, uint8_t **bytes, int32_t *count,
                         agb_error *err) {
  try {
    if (extension == nullptr || bytes == nullptr || count == nullptr) throw std::invalid_argument("null argument");
    const cv::Mat bgr = as_bgr(image);
    std::vector<uchar> encoded;
    if (!cv::imencode(extension, bgr, encoded)) throw std::runtime_error(std::string("cannot encode as ") + extension);
    auto *copy = static_cast<uint8_t *>(std::malloc(encoded.empty() ? 1 : encoded.size()));
    if (copy == nullptr) throw std::bad_alloc();
    std::copy(encoded.begin(), encoded.end(), copy);
    *bytes = copy;
    *count = (int32_t)encoded.size();
    return 0;
  } catch (const std::exception &e) {
    set_error(err, e.what());
  } catch (...) {
    set_error(err, "unknown C++ exception");
  }
  return -1;
}

}  // extern "C"
