// The C++ side of opencv_bridge.h. Every entry point is wrapped in guarded(),
// which turns any exception into an error message: nothing thrown here may
// unwind into Swift or GStreamer.
#include "opencv_bridge.h"
#include "face_chip.hpp"

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <malloc.h>
#include <mutex>
#include <new>
#include <string>
#include <vector>

struct agb_net {
  cv::dnn::Net net;
  // cv::dnn::Net::forward is not re-entrant; one element may share a net
  // between streaming threads, so serialise forwards per net.
  std::mutex lock;
  // Reused between frames so steady-state inference allocates nothing new.
  cv::Mat canvas;
  cv::Mat staging;
  cv::Mat blob;
  std::vector<cv::Mat> chips;
};

namespace {

void set_error(agb_error *err, const std::string &message) {
  if (err == nullptr) return;
  std::snprintf(err->message, sizeof(err->message), "%s", message.c_str());
}

template <typename Result, typename Body>
Result guarded(agb_error *err, Result failure, Body body) {
  try {
    return body();
  } catch (const cv::Exception &e) {
    set_error(err, std::string("OpenCV: ") + (e.err.empty() ? e.what() : e.err) +
                       (e.func.empty() ? "" : " (in " + e.func + ")"));
  } catch (const std::bad_alloc &) {
    set_error(err, "out of memory");
  } catch (const std::exception &e) {
    set_error(err, e.what());
  } catch (...) {
    set_error(err, "unknown C++ exception");
  }
  return failure;
}

int channels_of(int32_t format) {
  switch (format) {
    case AGB_PIXEL_BGR:
    case AGB_PIXEL_RGB:
      return 3;
    case AGB_PIXEL_GRAY8:
      return 1;
    case AGB_PIXEL_BGRX:
    case AGB_PIXEL_BGRA:
    case AGB_PIXEL_RGBX:
    case AGB_PIXEL_RGBA:
    case AGB_PIXEL_XBGR:
    case AGB_PIXEL_ABGR:
    case AGB_PIXEL_XRGB:
    case AGB_PIXEL_ARGB:
      return 4;
    default:
      return 0;
  }
}

// Byte offsets of R, G and B inside one pixel.
void rgb_offsets(int32_t format, int offsets[3]) {
  switch (format) {
    case AGB_PIXEL_BGR:
    case AGB_PIXEL_BGRX:
    case AGB_PIXEL_BGRA:
      offsets[0] = 2, offsets[1] = 1, offsets[2] = 0;
      break;
    case AGB_PIXEL_RGB:
    case AGB_PIXEL_RGBX:
    case AGB_PIXEL_RGBA:
      offsets[0] = 0, offsets[1] = 1, offsets[2] = 2;
      break;
    case AGB_PIXEL_XBGR:
    case AGB_PIXEL_ABGR:
      offsets[0] = 3, offsets[1] = 2, offsets[2] = 1;
      break;
    case AGB_PIXEL_XRGB:
    case AGB_PIXEL_ARGB:
      offsets[0] = 1, offsets[1] = 2, offsets[2] = 3;
      break;
    default:
      offsets[0] = offsets[1] = offsets[2] = 0;
  }
}

// A Mat header over the caller's pixels (no copy). Planar YUV frames are
// refused: what needs colour must see them converted (agb_yuv_to_bgr).
cv::Mat wrap(const agb_image *image) {
  if (image == nullptr || image->data == nullptr) throw std::invalid_argument("no image data");
  if (image->chroma != AGB_CHROMA_NONE)
    throw std::invalid_argument("a planar YUV frame needs converting to BGR first");
  const int channels = channels_of(image->format);
  if (channels == 0) throw std::invalid_argument("unsupported pixel format " + std::to_string(image->format));
  if (image->width <= 0 || image->height <= 0)
    throw std::invalid_argument("image size " + std::to_string(image->width) + "x" +
                                std::to_string(image->height) + " is empty");
  if (image->stride < image->width * channels)
    throw std::invalid_argument("stride " + std::to_string(image->stride) + " is shorter than a row");
  return cv::Mat(image->height, image->width, CV_8UC(channels), image->data, (size_t)image->stride);
}

// The pixels to read brightness from: a packed image as it is, or the Y plane
// of a planar one (then `format` becomes GRAY8).
cv::Mat brightness_source(const agb_image *image, int32_t &format) {
  if (image == nullptr || image->data == nullptr) throw std::invalid_argument("no image data");
  if (image->chroma == AGB_CHROMA_NONE) {
    format = image->format;
    return wrap(image);
  }
  if (image->width <= 0 || image->height <= 0 || image->stride < image->width)
    throw std::invalid_argument("bad Y plane");
  format = AGB_PIXEL_GRAY8;
  return cv::Mat(image->height, image->width, CV_8UC1, image->data, (size_t)image->stride);
}

// The chroma planes of a planar frame as Mats: I420 two of (w+1)/2 x (h+1)/2,
// NV12 one two-channel plane of that size.
void chroma_planes(const agb_image *image, cv::Mat &u, cv::Mat &v) {
  const int cw = (image->width + 1) / 2, ch = (image->height + 1) / 2;
  if (image->u == nullptr) throw std::invalid_argument("no chroma plane");
  if (image->chroma == AGB_CHROMA_I420) {
    if (image->v == nullptr || image->chroma_stride < cw) throw std::invalid_argument("bad I420 chroma planes");
    u = cv::Mat(ch, cw, CV_8UC1, image->u, (size_t)image->chroma_stride);
    v = cv::Mat(ch, cw, CV_8UC1, image->v, (size_t)image->chroma_stride);
  } else if (image->chroma == AGB_CHROMA_NV12) {
    if (image->chroma_stride < 2 * cw) throw std::invalid_argument("bad NV12 chroma plane");
    u = cv::Mat(ch, cw, CV_8UC2, image->u, (size_t)image->chroma_stride);
    v = cv::Mat();
  } else {
    throw std::invalid_argument("unknown chroma layout " + std::to_string(image->chroma));
  }
}

// Converts src (in `format`) to 3-channel BGR or RGB into dst.
void to_three_channels(const cv::Mat &src, int32_t format, bool rgb, cv::Mat &dst) {
  int offsets[3];
  rgb_offsets(format, offsets);
  if (src.channels() == 1) {
    cv::cvtColor(src, dst, cv::COLOR_GRAY2BGR);
    return;
  }
  // Destination channel k takes source byte from_to[2k]: B,G,R or R,G,B.
  const int order[3] = {rgb ? offsets[0] : offsets[2], offsets[1], rgb ? offsets[2] : offsets[0]};
  dst.create(src.rows, src.cols, CV_8UC3);
  const int from_to[6] = {order[0], 0, order[1], 1, order[2], 2};
  cv::mixChannels(&src, 1, &dst, 1, from_to, 3);
}

cv::Scalar colour_in(int32_t format, uint8_t r, uint8_t g, uint8_t b) {
  if (format == AGB_PIXEL_GRAY8) return cv::Scalar(0.299 * r + 0.587 * g + 0.114 * b);
  int offsets[3];
  rgb_offsets(format, offsets);
  double px[4] = {255, 255, 255, 255};
  px[offsets[0]] = r, px[offsets[1]] = g, px[offsets[2]] = b;
  return cv::Scalar(px[0], px[1], px[2], px[3]);
}

// Resamples the chip described by `t` (chip -> image affine) from src into dst (size w x h).
// A strongly shrinking transform is first approximated by an area-averaging
// resize of the source region, then the remaining near-1:1 warp is applied, so
// large faces do not alias into the tiny chips the nets were trained on.
void cut_chip(const cv::Mat &src, const float t[6], int w, int h, cv::Mat &dst, cv::Mat &staging) {
  const double a = t[0], b = t[1], c = t[2], d = t[3], e = t[4], f = t[5];
  // Chip pixel size in image pixels (the transform's scale).
  const double step = std::sqrt(std::fabs(a * e - b * d));
  double xs[4], ys[4];
  const double us[4] = {0, (double)w, 0, (double)w}, vs[4] = {0, 0, (double)h, (double)h};
  for (int i = 0; i < 4; i++) {
    xs[i] = a * us[i] + b * vs[i] + c;
    ys[i] = d * us[i] + e * vs[i] + f;
  }
  const double x0 = std::floor(*std::min_element(xs, xs + 4)) - 1;
  const double y0 = std::floor(*std::min_element(ys, ys + 4)) - 1;
  const double x1 = std::ceil(*std::max_element(xs, xs + 4)) + 1;
  const double y1 = std::ceil(*std::max_element(ys, ys + 4)) + 1;
  const cv::Rect region((int)x0, (int)y0, std::max(1, (int)(x1 - x0)), std::max(1, (int)(y1 - y0)));
  const cv::Rect inside = region & cv::Rect(0, 0, src.cols, src.rows);
  // The region, with the image's edge pixels repeated where it sticks out (a
  // face at the border, a tight crop): black borders skew the nets more.
  if (inside.area() > 0) {
    cv::copyMakeBorder(src(inside), staging, inside.y - region.y, region.br().y - inside.br().y,
                       inside.x - region.x, region.br().x - inside.br().x, cv::BORDER_REPLICATE);
  } else {
    staging.create(region.height, region.width, src.type());
    staging.setTo(cv::Scalar::all(0));
  }
  double shrink = step > 1.5 ? step : 1.0;
  cv::Mat source = staging;
  cv::Mat reduced;
  if (shrink > 1.0) {
    const int rw = std::max(1, (int)std::lround(region.width / shrink));
    const int rh = std::max(1, (int)std::lround(region.height / shrink));
    cv::resize(staging, reduced, cv::Size(rw, rh), 0, 0, cv::INTER_AREA);
    source = reduced;
  }
  const double sx = (double)source.cols / region.width, sy = (double)source.rows / region.height;
  // chip -> reduced region coordinates.
  cv::Mat m = (cv::Mat_<double>(2, 3) << a * sx, b * sx, (c - region.x) * sx, d * sy, e * sy,
               (f - region.y) * sy);
  cv::warpAffine(source, dst, m, cv::Size(w, h), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                 cv::BORDER_CONSTANT, cv::Scalar::all(0));
}


// Area-averaging downscale of `in` to out_w x out_h. OpenCV's INTER_AREA is
// fast for whole-number factors and ~8x slower per pixel otherwise (it was 4%
// of the element's CPU in the appearance search at 720p): so a whole-number
// reduction first, then INTER_AREA by less than 2. The first step drops the
// last cols % k and rows % k pixels; `covered` (when asked for) is the part of
// `in` (from its top-left corner) the output stands for.
void area_downscale(const cv::Mat &in, int out_w, int out_h, cv::Mat &out, cv::Size *covered = nullptr) {
  const int k = std::min(in.cols / std::max(1, out_w), in.rows / std::max(1, out_h));
  const cv::Size whole = k < 2 ? in.size() : cv::Size(in.cols / k * k, in.rows / k * k);
  if (covered != nullptr) *covered = whole;
  if (k < 2) {
    cv::resize(in, out, cv::Size(out_w, out_h), 0, 0, cv::INTER_AREA);
    return;
  }
  cv::Mat reduced;
  cv::resize(in(cv::Rect(cv::Point(0, 0), whole)), reduced, cv::Size(whole.width / k, whole.height / k), 0, 0,
             cv::INTER_AREA);
  cv::resize(reduced, out, cv::Size(out_w, out_h), 0, 0, cv::INTER_AREA);
}

// The grey pixels of `region` of src (replicating the edge beyond the image),
// area-downscaled to out_w x out_h; `covered` (when asked for) is the part of
// the region (from its top-left corner) they stand for (see area_downscale).
void grey_region(const cv::Mat &src, int32_t format, const cv::Rect &region, int out_w, int out_h, cv::Mat &out,
                 cv::Size *covered = nullptr) {
  if (region.width <= 0 || region.height <= 0) throw std::invalid_argument("empty region");
  const cv::Rect inside = region & cv::Rect(0, 0, src.cols, src.rows);
  cv::Mat staging;
  if (inside == region) {
    staging = src(region);  // a view: no copy
  } else if (inside.area() > 0) {
    cv::copyMakeBorder(src(inside), staging, inside.y - region.y, region.br().y - inside.br().y,
                       inside.x - region.x, region.br().x - inside.br().x, cv::BORDER_REPLICATE);
  } else {
    staging = cv::Mat::zeros(region.height, region.width, src.type());
  }
  cv::Mat grey;
  if (staging.channels() == 1) {
    grey = staging;
  } else {
    cv::Mat bgr;
    to_three_channels(staging, format, false, bgr);
    cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
  }
  area_downscale(grey, out_w, out_h, out, covered);
}

// The patch functions' shared checks: a patch side the callers use, a region
// of at least a pixel, coordinates within reach of any frame.
void check_patch_region(int32_t size, float x, float y, float width, float height) {
  if (size <= 0 || size > 256) throw std::invalid_argument("patch size " + std::to_string(size));
  if (!(width >= 1 && height >= 1 && width < 1e6f && height < 1e6f && std::fabs(x) < 1e6f && std::fabs(y) < 1e6f))
    throw std::invalid_argument("region out of range");
}

// Offset (-0.5..0.5) of a peak from its integer position, by a parabola through it and its neighbours.
double subpixel(double left, double centre, double right) {
  const double d = left - 2 * centre + right;
  if (std::fabs(d) < 1e-9) return 0;
  return std::max(-0.5, std::min(0.5, 0.5 * (left - right) / d));
}

}  // namespace

extern "C" {

agb_net *agb_net_load_caffe(const char *prototxt_path, const char *model_path, agb_error *err) {
  return guarded(err, (agb_net *)nullptr, [&]() -> agb_net * {
    if (prototxt_path == nullptr || model_path == nullptr) throw std::invalid_argument("no model path");
    auto *holder = new agb_net();
    try {
      holder->net = cv::dnn::readNetFromCaffe(prototxt_path, model_path);
      if (holder->net.empty()) throw std::runtime_error("the network has no layers");
    } catch (...) {
      delete holder;
      throw;
    }
    return holder;
  });
}

agb_net *agb_net_load_onnx(const char *model_path, agb_error *err) {
  return guarded(err, (agb_net *)nullptr, [&]() -> agb_net * {
    if (model_path == nullptr) throw std::invalid_argument("no model path");
    auto *holder = new agb_net();
    try {
      holder->net = cv::dnn::readNetFromONNX(model_path);
      if (holder->net.empty()) throw std::runtime_error("the network has no layers");
    } catch (...) {
      delete holder;
      throw;
    }
    return holder;
  });
}

int32_t agb_net_check(agb_net *net, const agb_input_spec *spec, int32_t batch, agb_error *err) {
  return guarded(err, -1, [&]() -> int32_t {
    if (net == nullptr || spec == nullptr || batch <= 0) throw std::invalid_argument("null argument");
    std::lock_guard<std::mutex> hold(net->lock);
    const int shape[4] = {batch, 3, spec->height, spec->width};
    cv::Mat input(4, shape, CV_32F, cv::Scalar(0));
    net->net.setInput(input);
    // Every output the net has, as it will be run: cv::dnn (4.6) plans its
    // buffers on the first forward for the outputs asked then; asking for the
    // last output alone and later for all of them gave garbage in the others
    // (CenterFace's landmarks).
    std::vector<cv::Mat> outs;
    net->net.forward(outs, net->net.getUnconnectedOutLayersNames());
    if (outs.empty()) throw std::runtime_error("the network produced no output");
    const cv::Mat &out = outs[0];
    if (out.empty() || out.size[0] < 1) throw std::runtime_error("the network produced no output");
    // Importing a model parses megabytes of protobuf into short-lived heap
    // blocks; hand that memory back to the system rather than keep it mapped.
    malloc_trim(0);
    return (int32_t)(out.total() / (size_t)out.size[0]);
  });
}

void agb_net_free(agb_net *net) {
  try {
    delete net;
  } catch (...) {
  }
}

void agb_release_free_memory(void) { malloc_trim(0); }

void agb_set_num_threads(int32_t threads) {
  try {
    cv::setNumThreads(threads);
  } catch (...) {
  }
}

int32_t agb_get_num_threads(void) {
  try {
    return cv::getNumThreads();
  } catch (...) {
    return -1;
  }
}

namespace {

// Sets the network input: a spec-sized canvas of the mean colour (so the
// border is exactly zero after normalisation; canvas and mean are in the
// network's channel order) with the image resized into `region`. Resizing
// comes first, in the source format, so the colour conversion runs on the
// small image.
void set_image_input(agb_net *net, const cv::Mat &src, int32_t format, const agb_input_spec *spec,
                     const cv::Rect &region, int interpolation) {
  const cv::Scalar mean(spec->mean[0], spec->mean[1], spec->mean[2]);
  net->canvas.create(spec->height, spec->width, CV_8UC3);
  net->canvas.setTo(mean);
  cv::Mat target = net->canvas(region);
  if (src.channels() == 3 && (format == AGB_PIXEL_RGB) == (spec->rgb != 0)) {
    cv::resize(src, target, target.size(), 0, 0, interpolation);
  } else {
    cv::resize(src, net->staging, target.size(), 0, 0, interpolation);
    cv::Mat converted;
    to_three_channels(net->staging, format, spec->rgb != 0, converted);
    converted.copyTo(target);
  }
  cv::dnn::blobFromImage(net->canvas, net->blob, spec->scale, cv::Size(), mean, false, false);
  net->net.setInput(net->blob);
}

// The network input from a planar YUV 4:2:0 frame: its planes are resized to
// the region first (Y to the region's size, chroma to half of it) and only
// then converted, so the colour conversion runs on the small image and the
// frame needs no BGR copy (a 720p frame: one 2.7 MB buffer, ~1 ms, and an
// area resize of three channels, ~3.5-5.6 ms, become ~2 ms). A region of odd
// size goes through a BGR copy of the frame (4:2:0 needs even sides).
void set_planar_input(agb_net *net, const agb_image *image, const agb_input_spec *spec, const cv::Rect &region) {
  int32_t format = 0;
  const cv::Mat y = brightness_source(image, format);
  cv::Mat u, v;
  chroma_planes(image, u, v);
  if (region.width % 2 != 0 || region.height % 2 != 0) {
    cv::Mat bgr(y.rows, y.cols, CV_8UC3);
    agb_image packed{bgr.data, y.cols, y.rows, (int32_t)bgr.step[0], AGB_PIXEL_BGR, AGB_CHROMA_NONE, nullptr, nullptr, 0};
    agb_error err;
    if (agb_yuv_to_bgr(image, &packed, &err) != 0) throw std::runtime_error(err.message);
    set_image_input(net, bgr, AGB_PIXEL_BGR, spec, region, region.width < bgr.cols ? cv::INTER_AREA : cv::INTER_LINEAR);
    return;
  }
  const int w = region.width, h = region.height;
  const int interpolation = w < y.cols ? cv::INTER_AREA : cv::INTER_LINEAR;
  // One buffer laid out as OpenCV's 4:2:0 conversions read it: Y, then the chroma.
  cv::Mat all(h * 3 / 2, w, CV_8UC1);
  // Downscaling (a frame larger than the detector's input, as usual) goes
  // through area_downscale: a 720p frame's planes took ~5 ms a detection in
  // INTER_AREA's general path. Its whole-number step may leave out the last
  // row or column of a plane of odd size: under a pixel of the frame.
  auto resize_plane = [&](const cv::Mat &plane, cv::Mat &&out) {
    const uchar *into = out.data;
    if (interpolation == cv::INTER_AREA) {
      area_downscale(plane, out.cols, out.rows, out);
    } else {
      cv::resize(plane, out, out.size(), 0, 0, interpolation);
    }
    if (out.data != into) throw std::logic_error("plane was reallocated");
  };
  resize_plane(y, all.rowRange(0, h));
  uint8_t *chroma = all.data + (size_t)w * h;
  if (image->chroma == AGB_CHROMA_I420) {
    resize_plane(u, cv::Mat(h / 2, w / 2, CV_8UC1, chroma));
    resize_plane(v, cv::Mat(h / 2, w / 2, CV_8UC1, chroma + (size_t)(w / 2) * (h / 2)));
  } else {
    resize_plane(u, cv::Mat(h / 2, w / 2, CV_8UC2, chroma));
  }
  const bool rgb = spec->rgb != 0;
  const int code = image->chroma == AGB_CHROMA_I420 ? (rgb ? cv::COLOR_YUV2RGB_I420 : cv::COLOR_YUV2BGR_I420)
                                                    : (rgb ? cv::COLOR_YUV2RGB_NV12 : cv::COLOR_YUV2BGR_NV12);
  const cv::Scalar mean(spec->mean[0], spec->mean[1], spec->mean[2]);
  net->canvas.create(spec->height, spec->width, CV_8UC3);
  net->canvas.setTo(mean);
  cv::Mat converted;
  cv::cvtColor(all, converted, code);
  converted.copyTo(net->canvas(region));
  cv::dnn::blobFromImage(net->canvas, net->blob, spec->scale, cv::Size(), mean, false, false);
  net->net.setInput(net->blob);
}

}  // namespace

int32_t agb_ssd_detect(agb_net *net, const agb_image *image, const agb_input_spec *spec,
                       float padding, float threshold, agb_detection *out, int32_t capacity,
                       agb_error *err) {
  return guarded(err, -1, [&]() -> int32_t {
    if (net == nullptr || spec == nullptr || (out == nullptr && capacity > 0))
      throw std::invalid_argument("null argument");
    std::lock_guard<std::mutex> hold(net->lock);
    const cv::Mat src = wrap(image);
    const int W = spec->width, H = spec->height;
    if (W <= 0 || H <= 0) throw std::invalid_argument("network input size is empty");
    padding = std::max(0.0f, std::min(padding, 2.0f));
    // Letterbox: fit the padded image into W x H keeping its aspect ratio.
    const double padded_w = src.cols * (1.0 + 2.0 * padding), padded_h = src.rows * (1.0 + 2.0 * padding);
    const double scale = std::min(W / padded_w, H / padded_h);
    const int rw = std::max(1, std::min(W, (int)std::lround(src.cols * scale)));
    const int rh = std::max(1, std::min(H, (int)std::lround(src.rows * scale)));
    const int ox = (W - rw) / 2, oy = (H - rh) / 2;
    set_image_input(net, src, image->format, spec, cv::Rect(ox, oy, rw, rh), cv::INTER_AREA);
    cv::Mat result = net->net.forward();
    // DetectionOutput: 1 x 1 x N x 7 rows of [image, label, score, x1, y1, x2, y2], normalised.
    if (result.dims != 4 || result.size[3] != 7)
      throw std::runtime_error("the detector's output is not an SSD DetectionOutput (N x 7)");
    const int rows = result.size[2];
    const float *row = result.ptr<float>();
    int32_t count = 0;
    for (int i = 0; i < rows && count < capacity; i++, row += 7) {
      const float score = row[2];
      if (!(score >= threshold)) continue;
      const float nx1 = row[3], ny1 = row[4], nx2 = row[5], ny2 = row[6];
      // OpenCV 4.6 emits some rows far outside the unit square at high score: drop them.
      if (!(nx1 >= -0.05f && ny1 >= -0.05f && nx2 <= 1.05f && ny2 <= 1.05f && nx2 > nx1 && ny2 > ny1))
        continue;
      double x1 = (nx1 * W - ox) / scale, y1 = (ny1 * H - oy) / scale;
      double x2 = (nx2 * W - ox) / scale, y2 = (ny2 * H - oy) / scale;
      x1 = std::max(0.0, x1), y1 = std::max(0.0, y1);
      x2 = std::min((double)src.cols, x2), y2 = std::min((double)src.rows, y2);
      if (x2 - x1 < 1.0 || y2 - y1 < 1.0) continue;
      out[count++] = agb_detection{(float)x1, (float)y1, (float)(x2 - x1), (float)(y2 - y1), score};
    }
    std::sort(out, out + count, [](const agb_detection &l, const agb_detection &r) { return l.score > r.score; });
    return count;
  });
}

int32_t agb_forward_outputs(agb_net *net, const agb_image *image, const agb_input_spec *spec, int32_t x,
                            int32_t y, int32_t width, int32_t height, const char *const *names,
                            int32_t name_count, float *out, int32_t capacity, int32_t *sizes,
                            agb_error *err) {
  return guarded(err, -1, [&]() -> int32_t {
    if (net == nullptr || spec == nullptr || names == nullptr || name_count <= 0 || sizes == nullptr ||
        (out == nullptr && capacity > 0))
      throw std::invalid_argument("null argument");
    std::lock_guard<std::mutex> hold(net->lock);
    const int W = spec->width, H = spec->height;
    if (W <= 0 || H <= 0) throw std::invalid_argument("network input size is empty");
    if (width <= 0 || height <= 0 || x < 0 || y < 0 || x + width > W || y + height > H)
      throw std::invalid_argument("the image region does not lie inside the network input");
    const cv::Rect region(x, y, width, height);
    if (image != nullptr && image->chroma != AGB_CHROMA_NONE) {
      set_planar_input(net, image, spec, region);
    } else {
      const cv::Mat src = wrap(image);
      set_image_input(net, src, image->format, spec, region, width < src.cols ? cv::INTER_AREA : cv::INTER_LINEAR);
    }
    // setInput copied the blob into the net: the detector's staging images
    // (1.8 MB at 480x256) need not stay allocated through the forward and
    // until the next detection (peak RSS).
    net->blob.release();
    net->canvas.release();
    net->staging.release();
    std::vector<cv::String> wanted;
    for (int i = 0; i < name_count; i++) {
      if (names[i] == nullptr) throw std::invalid_argument("null output name");
      wanted.emplace_back(names[i]);
    }
    std::vector<cv::Mat> outputs;
    net->net.forward(outputs, wanted);
    if ((int)outputs.size() != name_count) throw std::runtime_error("the network gave fewer outputs than asked");
    size_t written = 0;
    for (int i = 0; i < name_count; i++) {
      const cv::Mat &o = outputs[i];
      if (o.type() != CV_32F || !o.isContinuous()) throw std::runtime_error("output " + wanted[i] + " is not float");
      if (written + o.total() > (size_t)capacity) throw std::runtime_error("output buffer too small");
      std::memcpy(out + written, o.ptr<float>(), o.total() * sizeof(float));
      sizes[i] = (int32_t)o.total();
      written += o.total();
    }
    return (int32_t)written;
  });
}

// Runs the net on the blob already built from chip `i` of `count` and copies its
// one row of class scores to out[i * classes ...]; the first chip fixes `classes`.
static void forward_chip_into(agb_net *net, int i, int32_t count, float *out, int32_t out_capacity, int &classes) {
  net->net.setInput(net->blob);
  // 1 x C (or 1 x C x 1 x 1): one row.
  cv::Mat result = net->net.forward().reshape(1, 1);
  if (classes < 0) {
    classes = result.cols;
    if ((int64_t)classes * count > out_capacity)
      throw std::invalid_argument("output buffer holds " + std::to_string(out_capacity) + " values, need " +
                                  std::to_string((int64_t)classes * count));
  } else if (result.cols != classes) {
    throw std::runtime_error("the classifier returned " + std::to_string(result.cols) + " values, then " +
                             std::to_string(classes));
  }
  cv::Mat row = result.isContinuous() ? result : result.clone();
  std::memcpy(out + (size_t)classes * (size_t)i, row.ptr<float>(), sizeof(float) * (size_t)classes);
}

int32_t agb_classify_chips(agb_net *net, const agb_image *image, const float *transforms,
                           int32_t count, const agb_input_spec *spec, float *out,
                           int32_t out_capacity, agb_error *err) {
  return guarded(err, -1, [&]() -> int32_t {
    if (net == nullptr || spec == nullptr || transforms == nullptr || out == nullptr)
      throw std::invalid_argument("null argument");
    if (count <= 0) return 0;
    std::lock_guard<std::mutex> hold(net->lock);
    const cv::Mat src = wrap(image);
    if (spec->width <= 0 || spec->height <= 0) throw std::invalid_argument("network input size is empty");
    // One forward per chip, always at batch 1: cv::dnn re-plans the whole net
    // whenever the input shape changes (measured 2.9 ms per face at a fixed
    // batch of 1, 10.6 ms per call when the batch varied 1,2,1,3), and batching
    // saves nothing on CPU here (batch 2: 5.3 ms).
    net->chips.resize(1);
    cv::Mat raw;
    int classes = -1;
    for (int i = 0; i < count; i++) {
      cut_chip(src, transforms + 6 * i, spec->width, spec->height, raw, net->staging);
      to_three_channels(raw, image->format, spec->rgb != 0, net->chips[0]);
      cv::dnn::blobFromImages(net->chips, net->blob, spec->scale, cv::Size(),
                              cv::Scalar(spec->mean[0], spec->mean[1], spec->mean[2]), false, false);
      forward_chip_into(net, i, count, out, out_capacity, classes);
    }
    return classes;
  });
}

int32_t agb_extract_chip(const agb_image *image, const float transform[6], agb_image *chip, agb_error *err) {
  return guarded(err, -1, [&]() -> int32_t {
    if (transform == nullptr || chip == nullptr) throw std::invalid_argument("null argument");
    const cv::Mat src = wrap(image);
    cv::Mat dst = wrap(chip);
    if (dst.type() != src.type()) throw std::invalid_argument("chip and image formats differ");
    cv::Mat raw, staging;
    cut_chip(src, transform, dst.cols, dst.rows, raw, staging);
    raw.copyTo(dst);
    return 0;
  });
}

int32_t agb_classify_face_chips(agb_net *net, const agb_image *image, const agb_face_chip *chips, int32_t count,
                                int32_t border, const agb_input_spec *spec, float *out, int32_t out_capacity,
                                agb_error *err) {
  return guarded(err, -1, [&]() -> int32_t {
    if (net == nullptr || spec == nullptr || chips == nullptr || out == nullptr)
      throw std::invalid_argument("null argument");
    if (count <= 0) return 0;
    if (spec->width <= 0 || spec->width != spec->height)
      throw std::invalid_argument("face chips need a square network input");
    std::lock_guard<std::mutex> hold(net->lock);
    const cv::Mat src = wrap(image);
    net->chips.resize(1);
    cv::Mat raw;
    int classes = -1;
    for (int i = 0; i < count; i++) {
      // A mirrored look right after the same chip is that chip flipped: no
      // second pyramid (a large face's costs a few ms).
      const bool flip_of_previous = i > 0 && chips[i].cx == chips[i - 1].cx && chips[i].cy == chips[i - 1].cy &&
                                    chips[i].side == chips[i - 1].side && chips[i].angle == chips[i - 1].angle &&
                                    (chips[i].mirror != 0) != (chips[i - 1].mirror != 0);
      if (flip_of_previous) {
        cv::flip(raw, raw, 1);
      } else {
        extract_face_chip(src, chips[i], spec->width, border == AGB_BORDER_REPLICATE, raw);
      }
      to_three_channels(raw, image->format, spec->rgb != 0, net->chips[0]);
      cv::dnn::blobFromImages(net->chips, net->blob, spec->scale, cv::Size(),
                              cv::Scalar(spec->mean[0], spec->mean[1], spec->mean[2]), false, false);
      forward_chip_into(net, i, count, out, out_capacity, classes);
    }
    return classes;
  });
}

int32_t agb_extract_face_chip(const agb_image *image, const agb_face_chip *face, int32_t border, agb_image *chip,
                              agb_error *err) {
  return guarded(err, -1, [&]() -> int32_t {
    if (face == nullptr || chip == nullptr) throw std::invalid_argument("null argument");
    const cv::Mat src = wrap(image);
    cv::Mat dst = wrap(chip);
    if (dst.type() != src.type()) throw std::invalid_argument("chip and image formats differ");
    if (dst.cols != dst.rows) throw std::invalid_argument("a face chip is square");
    cv::Mat raw;
    extract_face_chip(src, *face, dst.cols, border == AGB_BORDER_REPLICATE, raw);
    raw.copyTo(dst);
    return 0;
  });
}

int32_t agb_yuv_to_bgr(const agb_image *src, agb_image *dst, agb_error *err) {
  return guarded(err, -1, [&]() -> int32_t {
    if (src == nullptr || dst == nullptr) throw std::invalid_argument("null argument");
    if (src->chroma == AGB_CHROMA_NONE) throw std::invalid_argument("not a planar YUV frame");
    int32_t format = 0;
    const cv::Mat y = brightness_source(src, format);
    cv::Mat u, v;
    chroma_planes(src, u, v);
    cv::Mat out = wrap(dst);
    if (dst->format != AGB_PIXEL_BGR || out.cols < y.cols || out.rows < y.rows)
      throw std::invalid_argument("destination must be BGR of the frame's size");
    // OpenCV converts 4:2:0 from one buffer of even size: Y, then the chroma.
    // A decoder's frame is often laid out exactly so: convert it in place.
    const bool even = y.cols % 2 == 0 && y.rows % 2 == 0;
    const size_t luma = (size_t)src->stride * src->height;
    const bool i420_contiguous = src->chroma == AGB_CHROMA_I420 && src->chroma_stride * 2 == src->stride &&
                                 src->u == src->data + luma && src->v == src->u + luma / 4;
    const bool nv12_contiguous = src->chroma == AGB_CHROMA_NV12 && src->chroma_stride == src->stride &&
                                 src->u == src->data + luma;
    if (even && src->stride == y.cols && (i420_contiguous || nv12_contiguous)) {
      const cv::Mat all(y.rows * 3 / 2, y.cols, CV_8UC1, src->data);
      cv::cvtColor(all, out(cv::Rect(0, 0, y.cols, y.rows)),
                   src->chroma == AGB_CHROMA_I420 ? cv::COLOR_YUV2BGR_I420 : cv::COLOR_YUV2BGR_NV12);
      return 0;
    }
    // Otherwise through a staging buffer (odd sizes repeat their last column
    // and row of Y).
    const int w = (y.cols + 1) & ~1, h = (y.rows + 1) & ~1;
    std::vector<uint8_t> staging((size_t)w * h * 3 / 2);
    cv::Mat ys(h, w, CV_8UC1, staging.data());
    cv::copyMakeBorder(y, ys, 0, h - y.rows, 0, w - y.cols, cv::BORDER_REPLICATE);
    cv::Mat bgr;
    if (src->chroma == AGB_CHROMA_I420) {
      cv::Mat us(h / 2, w / 2, CV_8UC1, staging.data() + (size_t)w * h);
      cv::Mat vs(h / 2, w / 2, CV_8UC1, staging.data() + (size_t)w * h + (size_t)(w / 2) * (h / 2));
      u.copyTo(us);
      v.copyTo(vs);
      cv::Mat all(h * 3 / 2, w, CV_8UC1, staging.data());
      cv::cvtColor(all, bgr, cv::COLOR_YUV2BGR_I420);
    } else {
      cv::Mat uvs(h / 2, w / 2, CV_8UC2, staging.data() + (size_t)w * h);
      u.copyTo(uvs);
      cv::Mat all(h * 3 / 2, w, CV_8UC1, staging.data());
      cv::cvtColor(all, bgr, cv::COLOR_YUV2BGR_NV12);
    }
    bgr(cv::Rect(0, 0, y.cols, y.rows)).copyTo(out(cv::Rect(0, 0, y.cols, y.rows)));
    return 0;
  });
}

namespace {
// Where a labelled box's lines, label background and text go; lines and text
// scale with the frame so labels read the same from 270p to 1080p.
struct LabelLayout {
  static constexpr int font = cv::FONT_HERSHEY_SIMPLEX;
  int thickness, text_thickness;
  double font_scale;
  cv::Rect background;  // empty without a label
  cv::Point origin;     // of the text
  bool dark_ink;        // black text on a light colour, else white

  LabelLayout(const cv::Size &frame, int x, int y, const char *label, uint8_t r, uint8_t g, uint8_t b) {
    const double unit = std::max(1.0, std::min(frame.height, frame.width) / 360.0);
    thickness = std::max(1, (int)std::lround(1.5 * unit));
    font_scale = 0.42 * unit;
    text_thickness = std::max(1, (int)std::lround(unit));
    dark_ink = 0.299 * r + 0.587 * g + 0.114 * b > 140;
    if (label == nullptr || *label == 0) return;
    int baseline = 0;
    const cv::Size text = cv::getTextSize(label, font, font_scale, text_thickness, &baseline);
    const int pad = std::max(2, (int)std::lround(3 * unit));
    const int box_h = text.height + baseline + 2 * pad;
    // Above the box when it fits, else inside its top edge.
    int top = y - box_h;
    if (top < 0) top = std::max(0, y);
    const int left = std::max(0, std::min(x, frame.width - text.width - 2 * pad));
    background = cv::Rect(left, top, text.width + 2 * pad, box_h);
    origin = cv::Point(left + pad, top + pad + text.height);
  }
};

// The label's filled background with its text, drawn into `canvas`. A label is
// drawn on every frame for every face but changes seldom, and anti-aliased
// Hershey text costs ~0.15 ms a label at 720p (5% of the element's CPU with
// defaults): so each streaming thread keeps the labels it drew lately, rendered
// on their background, and copies them in. On a uniform background text
// rendering is translation-invariant, so the pixels are those putText draws
// in place (540 labels, sizes, formats and colours compared: all equal; not so
// where the label crosses the frame's edge, which is drawn in place).
void paste_label(cv::Mat &canvas, const LabelLayout &layout, const char *label, const cv::Scalar &fill,
                 const cv::Scalar &ink) {
  struct Rendered {
    std::string key;  // everything that decides the pixels but the text
    std::string text;
    cv::Mat pixels;
  };
  static thread_local std::vector<Rendered> recent;  // most recent last
  constexpr size_t capacity = 64;
  if ((layout.background & cv::Rect(0, 0, canvas.cols, canvas.rows)) != layout.background) {
    // Past the frame's edge putText clips its strokes, which moves their
    // anti-aliasing: drawn in place, as the cache could not match it.
    cv::rectangle(canvas, layout.background, fill, cv::FILLED);
    cv::putText(canvas, label, layout.origin, LabelLayout::font, layout.font_scale, ink, layout.text_thickness,
                cv::LINE_AA);
    return;
  }
  char key[256];
  std::snprintf(key, sizeof(key), "%d|%.6f|%d|%.3f,%.3f,%.3f,%.3f|%.3f,%.3f,%.3f,%.3f|%dx%d", canvas.type(),
                layout.font_scale, layout.text_thickness, fill[0], fill[1], fill[2], fill[3], ink[0], ink[1], ink[2],
                ink[3], layout.background.width, layout.background.height);
  auto found = std::find_if(recent.begin(), recent.end(),
                            [&](const Rendered &r) { return r.key == key && r.text == label; });
  if (found == recent.end()) {
    Rendered r{key, label, cv::Mat(layout.background.size(), canvas.type(), fill)};
    cv::putText(r.pixels, label, layout.origin - layout.background.tl(), LabelLayout::font, layout.font_scale, ink,
                layout.text_thickness, cv::LINE_AA);
    if (recent.size() >= capacity) recent.erase(recent.begin());
    recent.push_back(std::move(r));
    found = recent.end() - 1;
  }
  found->pixels.copyTo(canvas(layout.background));
}

// BT.601 video-range YUV of an RGB colour.
void yuv_of(uint8_t r, uint8_t g, uint8_t b, double &y, double &u, double &v) {
  y = 16 + 0.257 * r + 0.504 * g + 0.098 * b;
  u = 128 - 0.148 * r - 0.291 * g + 0.439 * b;
  v = 128 + 0.439 * r - 0.368 * g - 0.071 * b;
}

// The label box drawn on a planar frame: outlines and fills in the Y plane and
// at half resolution in the chroma planes; the text in the Y plane only.
int32_t draw_planar(agb_image *image, int32_t x, int32_t y, int32_t width, int32_t height, const char *label,
                    uint8_t r, uint8_t g, uint8_t b) {
  int32_t format = 0;
  cv::Mat luma = brightness_source(image, format);
  cv::Mat u, v;
  chroma_planes(image, u, v);
  double cy, cu, cv_;
  yuv_of(r, g, b, cy, cu, cv_);
  const LabelLayout layout(luma.size(), x, y, label, r, g, b);
  auto chroma_rect = [&](const cv::Rect &rect, int line) {
    const cv::Rect c(rect.x / 2, rect.y / 2, std::max(1, rect.width / 2), std::max(1, rect.height / 2));
    if (v.empty()) {
      cv::rectangle(u, c, cv::Scalar(cu, cv_), line);
    } else {
      cv::rectangle(u, c, cv::Scalar(cu), line);
      cv::rectangle(v, c, cv::Scalar(cv_), line);
    }
  };
  cv::rectangle(luma, cv::Rect(x, y, width, height), cv::Scalar(cy), layout.thickness);
  chroma_rect(cv::Rect(x, y, width, height), std::max(1, layout.thickness / 2));
  if (layout.background.empty()) return 0;
  paste_label(luma, layout, label, cv::Scalar(cy), cv::Scalar(layout.dark_ink ? 16 : 235));
  chroma_rect(layout.background, cv::FILLED);
  return 0;
}
}  // namespace

int32_t agb_draw_labelled_box(agb_image *image, int32_t x, int32_t y, int32_t width, int32_t height,
                              const char *label, uint8_t r, uint8_t g, uint8_t b, agb_error *err) {
  return guarded(err, -1, [&]() -> int32_t {
    if (image != nullptr && image->chroma != AGB_CHROMA_NONE) return draw_planar(image, x, y, width, height, label, r, g, b);
    cv::Mat canvas = wrap(image);
    const cv::Scalar colour = colour_in(image->format, r, g, b);
    const LabelLayout layout(canvas.size(), x, y, label, r, g, b);
    cv::rectangle(canvas, cv::Rect(x, y, width, height), colour, layout.thickness, cv::LINE_AA);
    if (layout.background.empty()) return 0;
    const cv::Scalar ink = layout.dark_ink ? colour_in(image->format, 0, 0, 0) : colour_in(image->format, 255, 255, 255);
    paste_label(canvas, layout, label, colour, ink);
    return 0;
  });
}

int32_t agb_grey_patch(const agb_image *image, float x, float y, float width, float height, int32_t size,
                       uint8_t *patch, agb_error *err) {
  return guarded(err, -1, [&]() -> int32_t {
    if (patch == nullptr) throw std::invalid_argument("null argument");
    check_patch_region(size, x, y, width, height);
    int32_t format = 0;
    const cv::Mat src = brightness_source(image, format);
    const cv::Rect region((int)std::lround(x), (int)std::lround(y), std::max(1, (int)std::lround(width)),
                          std::max(1, (int)std::lround(height)));
    // Resized straight into the caller's patch (a header of the right size and type).
    cv::Mat out(size, size, CV_8UC1, patch);
    grey_region(src, format, region, size, size, out);
    if (out.data != patch) throw std::logic_error("patch was reallocated");
    return 0;
  });
}

int32_t agb_find_patch(const agb_image *image, const uint8_t *patch, int32_t size, float x, float y, float width,
                       float height, float margin, float *found_x, float *found_y, float *score, agb_error *err) {
  return guarded(err, -1, [&]() -> int32_t {
    if (patch == nullptr || found_x == nullptr || found_y == nullptr || score == nullptr)
      throw std::invalid_argument("null argument");
    check_patch_region(size, x, y, width, height);
    if (!(margin >= 0 && margin <= 4)) throw std::invalid_argument("search margin out of range");
    int32_t format = 0;
    const cv::Mat src = brightness_source(image, format);
    // The search window, at the patch's scale: the region plus `margin` of it on every side.
    const int border = std::max(1, (int)std::lround(margin * size));
    const int window = size + 2 * border;
    const double sx = size / (double)width, sy = size / (double)height;
    const cv::Rect region((int)std::lround(x - border / sx), (int)std::lround(y - border / sy),
                          std::max(1, (int)std::lround(window / sx)), std::max(1, (int)std::lround(window / sy)));
    cv::Mat search, result;
    cv::Size covered;
    grey_region(src, format, region, window, window, search, &covered);
    const cv::Mat templ(size, size, CV_8UC1, const_cast<uint8_t *>(patch));
    cv::matchTemplate(search, templ, result, cv::TM_CCOEFF_NORMED);
    double best = 0;
    cv::Point at;
    cv::minMaxLoc(result, nullptr, &best, nullptr, &at);
    double px = at.x, py = at.y;
    if (at.x > 0 && at.x < result.cols - 1)
      px += subpixel(result.at<float>(at.y, at.x - 1), best, result.at<float>(at.y, at.x + 1));
    if (at.y > 0 && at.y < result.rows - 1)
      py += subpixel(result.at<float>(at.y - 1, at.x), best, result.at<float>(at.y + 1, at.x));
    // Window pixels back to image pixels (the window's actual scale after rounding).
    *found_x = (float)(region.x + px * covered.width / (double)window);
    *found_y = (float)(region.y + py * covered.height / (double)window);
    *score = std::isfinite(best) ? (float)best : -1.0f;
    return 0;
  });
}

namespace {

// The longer side of the region a face's pixels are spread over, in the plane's pixels.
int region_side(const cv::Rect &r) { return std::max(r.width, r.height); }

// Blurs or pixelates `region` of `plane` (1 to 4 channels) in place. `side` is
// the longer side of the luma region, in this plane's pixels, so the chroma
// planes get the same strength relative to the face as the Y plane.
void anonymize_region(cv::Mat &plane, cv::Rect region, int32_t mode, double side) {
  region &= cv::Rect(0, 0, plane.cols, plane.rows);
  if (region.empty()) return;
  cv::Mat roi = plane(region);
  if (mode == AGB_ANONYMIZE_PIXELATE) {
    // Three blocks across the enlarged region (the face itself ~2): CenterFace
    // still found pixelated faces of the shared clip at eight blocks (93 of
    // 112), five (27-32) and four (1 in I420 and NV12).
    const double block = std::max(2.0, side / 3.0);
    const cv::Size blocks(std::max(1, (int)std::lround(region.width / block)),
                          std::max(1, (int)std::lround(region.height / block)));
    cv::Mat small;
    cv::resize(roi, small, blocks, 0, 0, cv::INTER_AREA);
    cv::resize(small, roi, roi.size(), 0, 0, cv::INTER_NEAREST);  // into roi: same size and type, no reallocation
    return;
  }
  // Blur: sigma of a quarter of the face region (a sixth left 1 of 112 faces
  // for CenterFace to find on the shared clip), on a copy area-downscaled to at
  // most ~48 px (the kernel then stays ~49 taps whatever the face size: a
  // 300 px face blurred at full size needs a 301-tap kernel).
  const double sigma = std::max(1.0, side / 4.0);
  const double factor = std::max(1.0, side / 48.0);
  cv::Mat small, blurred;
  const cv::Size reduced(std::max(1, (int)std::lround(region.width / factor)),
                         std::max(1, (int)std::lround(region.height / factor)));
  cv::resize(roi, small, reduced, 0, 0, cv::INTER_AREA);
  // BORDER_REPLICATE: the copy has no outside, and reflecting would pull the
  // face's own features back in at the edges.
  cv::GaussianBlur(small, blurred, cv::Size(0, 0), sigma / factor, sigma / factor, cv::BORDER_REPLICATE);
  cv::resize(blurred, roi, roi.size(), 0, 0, cv::INTER_LINEAR);
}

}  // namespace

int32_t agb_anonymize_boxes(agb_image *image, const float *boxes, int32_t count, int32_t mode, float margin,
                            agb_error *err) {
  return guarded(err, -1, [&]() -> int32_t {
    if (mode == AGB_ANONYMIZE_NONE || count <= 0) return 0;
    if (mode != AGB_ANONYMIZE_BLUR && mode != AGB_ANONYMIZE_PIXELATE)
      throw std::invalid_argument("unknown anonymize mode " + std::to_string(mode));
    if (boxes == nullptr) throw std::invalid_argument("no boxes");
    if (!(margin >= 0 && margin <= 10)) throw std::invalid_argument("margin out of range");
    const bool planar = image != nullptr && image->chroma != AGB_CHROMA_NONE;
    int32_t format = 0;
    cv::Mat luma = planar ? brightness_source(image, format) : wrap(image);
    cv::Mat u, v;
    if (planar) chroma_planes(image, u, v);
    for (int32_t i = 0; i < count; ++i) {
      const float *b = boxes + 4 * i;
      if (!(std::isfinite(b[0]) && std::isfinite(b[1]) && std::isfinite(b[2]) && std::isfinite(b[3]))) continue;
      if (b[2] <= 0 || b[3] <= 0) continue;
      const double x0 = std::floor(b[0] - margin * b[2]), y0 = std::floor(b[1] - margin * b[3]);
      const double x1 = std::ceil(b[0] + b[2] * (1 + margin)), y1 = std::ceil(b[1] + b[3] * (1 + margin));
      cv::Rect region((int)std::max(-1e6, x0), (int)std::max(-1e6, y0), 0, 0);
      region.width = (int)std::min(1e6, x1 - x0);
      region.height = (int)std::min(1e6, y1 - y0);
      region &= cv::Rect(0, 0, luma.cols, luma.rows);
      if (region.empty()) continue;
      const double side = region_side(region);
      anonymize_region(luma, region, mode, side);
      if (!planar) continue;
      // Chroma samples cover 2x2 luma pixels: round outward so a sample shared
      // with the face region is anonymised too.
      const int cx0 = region.x / 2, cy0 = region.y / 2;
      const int cx1 = (region.x + region.width + 1) / 2, cy1 = (region.y + region.height + 1) / 2;
      const cv::Rect chroma(cx0, cy0, cx1 - cx0, cy1 - cy0);
      anonymize_region(u, chroma, mode, side / 2);
      if (!v.empty()) anonymize_region(v, chroma, mode, side / 2);
    }
    return 0;
  });
}

void agb_free(void *pointer) { std::free(pointer); }

}  // extern "C"
