// dlib's shape predictor behind the same exception wall as opencv_bridge.cpp.
// dlib throws its own exceptions (serialization_error for a bad file); none
// may reach Swift.
#include "opencv_bridge.h"

#include <dlib/image_processing/shape_predictor.h>
#include <dlib/opencv/cv_image.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <exception>
#include <fstream>
#include <malloc.h>
#include <mutex>
#include <string>

struct agb_landmarker {
  dlib::shape_predictor predictor;
  std::mutex lock;
  cv::Mat bgr;  // reused conversion buffer
};

namespace {

void report(agb_error *err, const std::string &message) {
  if (err != nullptr) std::snprintf(err->message, sizeof(err->message), "%s", message.c_str());
}

int channels(int32_t format) {
  switch (format) {
    case AGB_PIXEL_BGR:
    case AGB_PIXEL_RGB:
      return 3;
    case AGB_PIXEL_GRAY8:
      return 1;
    default:
      return 4;
  }
}

// The frame as packed BGR (dlib's bgr_pixel), converting only when needed.
// A BGR frame is wrapped, not copied: the returned header then aliases the
// caller's pixels, so it must never be the reused `buffer` (a later conversion
// would write into the caller's memory).
cv::Mat as_bgr(const agb_image *image, cv::Mat &buffer) {
  const int n = channels(image->format);
  cv::Mat src(image->height, image->width, CV_8UC(n), image->data, (size_t)image->stride);
  switch (image->format) {
    case AGB_PIXEL_BGR: return src;
    case AGB_PIXEL_RGB: cv::cvtColor(src, buffer, cv::COLOR_RGB2BGR); break;
    case AGB_PIXEL_BGRX:
    case AGB_PIXEL_BGRA: cv::cvtColor(src, buffer, cv::COLOR_BGRA2BGR); break;
    case AGB_PIXEL_RGBX:
    case AGB_PIXEL_RGBA: cv::cvtColor(src, buffer, cv::COLOR_RGBA2BGR); break;
    case AGB_PIXEL_GRAY8: cv::cvtColor(src, buffer, cv::COLOR_GRAY2BGR); break;
    default: {
      // xBGR/ABGR: bytes X,B,G,R; xRGB/ARGB: X,R,G,B.
      const bool bgr_order = image->format == AGB_PIXEL_XBGR || image->format == AGB_PIXEL_ABGR;
      buffer.create(image->height, image->width, CV_8UC3);
      const int from_to[6] = {bgr_order ? 1 : 3, 0, 2, 1, bgr_order ? 3 : 1, 2};
      cv::mixChannels(&src, 1, &buffer, 1, from_to, 3);
    }
  }
  return buffer;
}

}  // namespace

extern "C" {

agb_landmarker *agb_landmarker_load(const char *path, agb_error *err) {
  agb_landmarker *holder = nullptr;
  try {
    if (path == nullptr) throw std::invalid_argument("no path");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(std::string("cannot open ") + path);
    holder = new agb_landmarker();
    dlib::deserialize(holder->predictor, in);
    if (holder->predictor.num_parts() == 0) throw std::runtime_error("the shape predictor has no parts");
    malloc_trim(0);  // deserialisation's temporaries
    return holder;
  } catch (const std::exception &e) {
    report(err, std::string("dlib: ") + e.what());
  } catch (...) {
    report(err, "unknown C++ exception");
  }
  delete holder;
  return nullptr;
}

void agb_landmarker_free(agb_landmarker *landmarker) {
  try {
    delete landmarker;
  } catch (...) {
  }
}

int32_t agb_landmarks(agb_landmarker *landmarker, const agb_image *image, const float *boxes, int32_t count,
                      float *out, int32_t out_capacity, agb_error *err) {
  try {
    if (landmarker == nullptr || image == nullptr || image->data == nullptr || boxes == nullptr || out == nullptr)
      throw std::invalid_argument("null argument");
    if (image->width <= 0 || image->height <= 0) throw std::invalid_argument("empty image");
    std::lock_guard<std::mutex> hold(landmarker->lock);
    const int parts = (int)landmarker->predictor.num_parts();
    if ((int64_t)count * parts * 2 > out_capacity) throw std::invalid_argument("landmark buffer too small");
    if (count <= 0) return parts;
    const cv::Mat bgr = as_bgr(image, landmarker->bgr);
    dlib::cv_image<dlib::bgr_pixel> view(bgr);
    for (int i = 0; i < count; i++) {
      const float *b = boxes + 4 * i;
      const dlib::rectangle rect((long)std::lround(b[0]), (long)std::lround(b[1]),
                                 (long)std::lround(b[0] + b[2]) - 1, (long)std::lround(b[1] + b[3]) - 1);
      const dlib::full_object_detection shape = landmarker->predictor(view, rect);
      for (int k = 0; k < parts; k++) {
        out[(i * parts + k) * 2] = (float)shape.part(k).x();
        out[(i * parts + k) * 2 + 1] = (float)shape.part(k).y();
      }
    }
    return parts;
  } catch (const std::exception &e) {
    report(err, std::string("landmarks: ") + e.what());
  } catch (...) {
    report(err, "unknown C++ exception");
  }
  return -1;
}

}  // extern "C"
