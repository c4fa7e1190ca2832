// OpenCV's Haar cascade face detector (cv::CascadeClassifier) behind the same
// exception wall as opencv_bridge.cpp: every entry point catches everything.
#include "opencv_bridge.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <fstream>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

struct agb_cascade {
  cv::CascadeClassifier classifier;
  // detectMultiScale keeps per-call state in the classifier (its feature
  // evaluator's buffers): serialise calls per instance.
  std::mutex lock;
  // Reused between frames.
  cv::Mat gray;
  cv::Mat staging;
  std::vector<cv::Rect> rects;
  std::vector<int> levels;
  std::vector<double> weights;
  // The last stage's threshold, read from the file: a window that passes the
  // cascade has a last-stage sum (its "level weight") at or above it.
  double last_threshold = 0;
};

namespace {

void haar_error(agb_error *err, const std::string &message) {
  if (err != nullptr) std::snprintf(err->message, sizeof(err->message), "%s", message.c_str());
}

template <typename Result, typename Body>
Result haar_guarded(agb_error *err, Result failure, Body body) {
  try {
    return body();
  } catch (const cv::Exception &e) {
    haar_error(err, std::string("OpenCV: ") + (e.err.empty() ? e.what() : e.err) +
                        (e.func.empty() ? "" : " (in " + e.func + ")"));
  } catch (const std::bad_alloc &) {
    haar_error(err, "out of memory");
  } catch (const std::exception &e) {
    haar_error(err, e.what());
  } catch (...) {
    haar_error(err, "unknown C++ exception");
  }
  return failure;
}

// The frame as one grey channel, with cv::cvtColor's BT.601 weights (what the
// tutorial's cvtColor(BGR2GRAY) computes) for every agb_pixel_format.
void to_gray(const agb_image *image, cv::Mat &gray, cv::Mat &staging) {
  if (image == nullptr || image->data == nullptr) throw std::invalid_argument("no image data");
  if (image->chroma != AGB_CHROMA_NONE) throw std::invalid_argument("a planar YUV frame needs converting to BGR first");
  if (image->width <= 0 || image->height <= 0)
    throw std::invalid_argument("image size " + std::to_string(image->width) + "x" +
                                std::to_string(image->height) + " is empty");
  int channels;
  switch (image->format) {
    case AGB_PIXEL_GRAY8: channels = 1; break;
    case AGB_PIXEL_BGR:
    case AGB_PIXEL_RGB: channels = 3; break;
    case AGB_PIXEL_BGRX:
    case AGB_PIXEL_BGRA:
    case AGB_PIXEL_RGBX:
    case AGB_PIXEL_RGBA:
    case AGB_PIXEL_XBGR:
    case AGB_PIXEL_ABGR:
    case AGB_PIXEL_XRGB:
    case AGB_PIXEL_ARGB: channels = 4; break;
    default: throw std::invalid_argument("unsupported pixel format " + std::to_string(image->format));
  }
  if (image->stride < image->width * channels)
    throw std::invalid_argument("stride " + std::to_string(image->stride) + " is shorter than a row");
  const cv::Mat src(image->height, image->width, CV_8UC(channels), image->data, (size_t)image->stride);
  switch (image->format) {
    case AGB_PIXEL_GRAY8: src.copyTo(gray); break;
    case AGB_PIXEL_BGR: cv::cvtColor(src, gray, cv::COLOR_BGR2GRAY); break;
    case AGB_PIXEL_RGB: cv::cvtColor(src, gray, cv::COLOR_RGB2GRAY); break;
    case AGB_PIXEL_BGRX:
    case AGB_PIXEL_BGRA: cv::cvtColor(src, gray, cv::COLOR_BGRA2GRAY); break;
    case AGB_PIXEL_RGBX:
    case AGB_PIXEL_RGBA: cv::cvtColor(src, gray, cv::COLOR_RGBA2GRAY); break;
    default: {
      // xBGR/ABGR: bytes X,B,G,R; xRGB/ARGB: X,R,G,B. Gather B,G,R, then convert.
      const bool bgr_order = image->format == AGB_PIXEL_XBGR || image->format == AGB_PIXEL_ABGR;
      staging.create(image->height, image->width, CV_8UC3);
      const int from_to[6] = {bgr_order ? 1 : 3, 0, 2, 1, bgr_order ? 3 : 1, 2};
      cv::mixChannels(&src, 1, &staging, 1, from_to, 3);
      cv::cvtColor(staging, gray, cv::COLOR_BGR2GRAY);
    }
  }
}

// stageThreshold of the last stage of a cascade in OpenCV's current format
// (<cascade><stages>...), 0 when the file has another layout.
double last_stage_threshold(const char *path) {
  try {
    cv::FileStorage fs(path, cv::FileStorage::READ);
    if (!fs.isOpened()) return 0;
    const cv::FileNode stages = fs.getFirstTopLevelNode()["stages"];
    if (!stages.isSeq() || stages.size() == 0) return 0;
    const cv::FileNode threshold = stages[(int)stages.size() - 1]["stageThreshold"];
    return threshold.isReal() || threshold.isInt() ? (double)threshold : 0.0;
  } catch (...) {
    return 0;
  }
}

}  // namespace

extern "C" {

agb_cascade *agb_cascade_load(const char *path, agb_error *err) {
  return haar_guarded(err, (agb_cascade *)nullptr, [&]() -> agb_cascade * {
    if (path == nullptr) throw std::invalid_argument("no cascade path");
    {
      std::ifstream probe(path, std::ios::binary);
      if (!probe) throw std::runtime_error(std::string("cannot open ") + path);
    }
    auto *holder = new agb_cascade();
    try {
      // load() returns false for a file that parses but is no cascade; a file
      // that is not XML/YAML/JSON at all makes FileStorage throw instead.
      bool loaded = false;
      std::string why;
      try {
        loaded = holder->classifier.load(path) && !holder->classifier.empty();
      } catch (const cv::Exception &e) {
        why = " (" + (e.err.empty() ? std::string(e.what()) : e.err) + ")";
      }
      if (!loaded) throw std::runtime_error(std::string(path) + " is not an OpenCV cascade classifier file" + why);
      holder->last_threshold = last_stage_threshold(path);
    } catch (...) {
      delete holder;
      throw;
    }
    return holder;
  });
}

void agb_cascade_free(agb_cascade *cascade) {
  try {
    delete cascade;
  } catch (...) {
  }
}

int32_t agb_cascade_detect(agb_cascade *cascade, const agb_image *image, const agb_cascade_params *params,
                           agb_detection *out, int32_t capacity, agb_error *err) {
  return haar_guarded(err, -1, [&]() -> int32_t {
    if (cascade == nullptr || params == nullptr || (out == nullptr && capacity > 0))
      throw std::invalid_argument("null argument");
    if (!(params->scale_factor > 1.0)) throw std::invalid_argument("scale factor must be above 1");
    if (params->min_neighbors < 0) throw std::invalid_argument("min neighbours must not be negative");
    std::lock_guard<std::mutex> hold(cascade->lock);
    to_gray(image, cascade->gray, cascade->staging);
    if (params->equalize) cv::equalizeHist(cascade->gray, cascade->gray);
    const int min_side = std::max(0, params->min_size);
    const int max_side = std::max(0, params->max_size);
    cascade->rects.clear();
    cascade->levels.clear();
    cascade->weights.clear();
    if (params->level_weights) {
      // detectMultiScale3 (outputRejectLevels = true): the same windows and grouping,
      // plus each group's largest last-stage sum.
      cascade->classifier.detectMultiScale(cascade->gray, cascade->rects, cascade->levels, cascade->weights,
                                           params->scale_factor, params->min_neighbors, 0,
                                           cv::Size(min_side, min_side), cv::Size(max_side, max_side), true);
      if (cascade->weights.size() != cascade->rects.size())
        throw std::runtime_error("the cascade returned " + std::to_string(cascade->weights.size()) +
                                 " weights for " + std::to_string(cascade->rects.size()) + " faces");
    } else {
      cascade->classifier.detectMultiScale(cascade->gray, cascade->rects, params->scale_factor,
                                           params->min_neighbors, 0, cv::Size(min_side, min_side),
                                           cv::Size(max_side, max_side));
    }
    const cv::Rect frame(0, 0, cascade->gray.cols, cascade->gray.rows);
    std::vector<agb_detection> found;
    found.reserve(cascade->rects.size());
    for (size_t i = 0; i < cascade->rects.size(); i++) {
      const cv::Rect r = cascade->rects[i] & frame;
      if (r.width <= 0 || r.height <= 0) continue;
      const float score =
          params->level_weights ? (float)(cascade->weights[i] - cascade->last_threshold) : 1.0f;
      found.push_back(agb_detection{(float)r.x, (float)r.y, (float)r.width, (float)r.height, score});
    }
    // Best first: by score, then (equal scores without weights) larger faces
    // first, then top-left first, so the order is deterministic.
    std::sort(found.begin(), found.end(), [](const agb_detection &l, const agb_detection &r) {
      if (l.score != r.score) return l.score > r.score;
      if (l.width * l.height != r.width * r.height) return l.width * l.height > r.width * r.height;
      if (l.y != r.y) return l.y < r.y;
      return l.x < r.x;
    });
    const int32_t count = (int32_t)std::min<size_t>(found.size(), (size_t)std::max(0, capacity));
    std::copy(found.begin(), found.begin() + count, out);
    return count;
  });
}

}  // extern "C"
