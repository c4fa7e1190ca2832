// Face chips exactly as dlib 19.x/20.x cuts them (extract_image_chip on a
// chip_details from get_face_chip_details), which is what the Cydral age and
// gender nets were trained on: dlib's own 2x image pyramid (5-tap [1 4 6 4 1]
// filter, integer sums truncated) down to the last level whose rectangle still
// holds more pixels than the chip, then bilinear sampling that maps the chip's
// corner pixels onto the rectangle's corners. OpenCV's pyrDown and
// warpAffine differ in the filter's phase, the border and the rounding, which
// moved the chips by a few grey levels and half a pixel (see docs/accuracy.md).
#include "face_chip.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace {

struct DRect {
  double l, t, r, b;
  // dlib's drectangle: width() is right - left + 1.
  double area() const { return (r < l || b < t) ? 0 : (r - l + 1) * (b - t + 1); }
};

// pyramid_down<2>::point_down / rect_down.
DRect rect_down(const DRect &r) { return {r.l / 2 - 1.25, r.t / 2 - 0.75, r.r / 2 - 1.25, r.b / 2 - 0.75}; }

// dlib's rotate_point(center, p, angle).
cv::Point2d rotate(const cv::Point2d &c, const cv::Point2d &p, double angle) {
  const double ca = std::cos(angle), sa = std::sin(angle);
  const cv::Point2d q = p - c;
  return {ca * q.x - sa * q.y + c.x, sa * q.x + ca * q.y + c.y};
}

// pyramid_down<2> (pyramid_down_2_1) on any number of 8-bit channels: output
// pixel (c, r) is the [1 4 6 4 1] x [1 4 6 4 1] sum around input (2c + 2, 2r + 2),
// divided by 256 with truncation. Output size ((cols - 3) / 2, (rows - 3) / 2).
void pyramid_down(const cv::Mat &in, cv::Mat &out) {
  if (in.rows <= 8 || in.cols <= 8) {
    out.release();
    return;
  }
  const int n = in.channels();
  const int oc = (in.cols - 3) / 2, orows = (in.rows - 3) / 2;
  cv::Mat rows(in.rows, oc * n, CV_16U);
  for (int r = 0; r < in.rows; r++) {
    const uint8_t *s = in.ptr<uint8_t>(r);
    uint16_t *d = rows.ptr<uint16_t>(r);
    for (int c = 0; c < oc; c++) {
      const uint8_t *p = s + 2 * c * n;
      for (int k = 0; k < n; k++)
        d[c * n + k] = (uint16_t)(p[k] + 4 * p[n + k] + 6 * p[2 * n + k] + 4 * p[3 * n + k] + p[4 * n + k]);
    }
  }
  out.create(orows, oc, in.type());
  for (int dr = 0, r = 2; dr < orows; dr++, r += 2) {
    const uint16_t *a = rows.ptr<uint16_t>(r - 2), *b = rows.ptr<uint16_t>(r - 1), *c = rows.ptr<uint16_t>(r),
                   *d = rows.ptr<uint16_t>(r + 1), *e = rows.ptr<uint16_t>(r + 2);
    uint8_t *o = out.ptr<uint8_t>(dr);
    for (int i = 0; i < oc * n; i++) o[i] = (uint8_t)((a[i] + 4 * b[i] + 6 * c[i] + 4 * d[i] + e[i]) / 256);
  }
}

// dlib's implicit drectangle -> rectangle conversion: each side rounded
// (clamped far outside any image first, so an absurd chip cannot overflow).
cv::Rect to_rect(const DRect &r) {
  auto side = [](double v) { return (long)std::floor(std::min(1e8, std::max(-1e8, v)) + 0.5); };
  const long l = side(r.l), t = side(r.t), rr = side(r.r), b = side(r.b);
  if (rr < l || b < t) return cv::Rect();
  return cv::Rect((int)l, (int)t, (int)(rr - l + 1), (int)(b - t + 1));
}

}  // namespace

void extract_face_chip(const cv::Mat &src, const agb_face_chip &chip, int size, bool replicate_border,
                       cv::Mat &dst) {
  if (size <= 0) throw std::invalid_argument("chip size is empty");
  if (!std::isfinite(chip.cx) || !std::isfinite(chip.cy) || !std::isfinite(chip.side) || !std::isfinite(chip.angle))
    throw std::invalid_argument("chip placement is not finite");
  // A face under a pixel across (min-face-size=0) samples one point.
  const double side = std::max(chip.side, 1e-6);
  const int n = src.channels();
  dst.create(size, size, src.type());
  dst.setTo(cv::Scalar::all(0));
  // centered_drect(center, size * scale, size * scale): right - left = side.
  const DRect rect{chip.cx - side / 2, chip.cy - side / 2, chip.cx + side / 2, chip.cy + side / 2};
  const double chip_area = (double)size * size;
  long depth = 0;
  double grow = 2;
  for (DRect r = rect_down(rect); r.area() > chip_area; r = rect_down(r)) {
    depth++;
    grow = grow * 2 + 2;
  }
  const cv::Point2d centre(chip.cx, chip.cy);
  const cv::Point2d corners[4] = {{rect.l, rect.t}, {rect.r, rect.t}, {rect.l, rect.b}, {rect.r, rect.b}};
  DRect rot{1e300, 1e300, -1e300, -1e300};
  for (const auto &c : corners) {
    const cv::Point2d p = rotate(centre, c, chip.angle);
    rot = {std::min(rot.l, p.x), std::min(rot.t, p.y), std::max(rot.r, p.x), std::max(rot.b, p.y)};
  }
  // The region dlib builds its pyramid on: the rotated rectangle grown by
  // `grow`, clipped to the image (here: to the image plus the replicated
  // border, whose pixels dlib would read as black).
  const DRect grown{rot.l - grow, rot.t - grow, rot.r + grow, rot.b + grow};
  cv::Mat image = src;
  cv::Point origin(0, 0);
  if (replicate_border) {
    // A Mat of its own: `image` still shares the frame's pixels, and when the
    // bordered region has the frame's size, copyMakeBorder would write it into
    // the frame in place (shifting the picture under the next chips).
    image = cv::Mat();
    // At most one image size of repeated edge on each side (a face several
    // times the frame's size samples black beyond that, as dlib everywhere).
    const int reach = std::max(src.cols, src.rows);
    const cv::Rect wanted = to_rect(grown) & cv::Rect(-reach, -reach, src.cols + 2 * reach, src.rows + 2 * reach);
    const cv::Rect inside = wanted & cv::Rect(0, 0, src.cols, src.rows);
    if (inside.area() == 0) return;  // nothing of the image: black, as dlib
    cv::copyMakeBorder(src(inside), image, inside.y - wanted.y, wanted.br().y - inside.br().y, inside.x - wanted.x,
                       wanted.br().x - inside.br().x, cv::BORDER_REPLICATE);
    origin = wanted.tl();
  }
  const DRect local{grown.l - origin.x, grown.t - origin.y, grown.r - origin.x, grown.b - origin.y};
  const DRect clip{std::max(local.l, 0.0), std::max(local.t, 0.0), std::min(local.r, (double)image.cols - 1),
                   std::min(local.b, (double)image.rows - 1)};
  const cv::Rect box = to_rect(clip) & cv::Rect(0, 0, image.cols, image.rows);
  if (box.area() == 0) return;

  std::vector<cv::Mat> levels((size_t)depth);
  if (depth > 0) pyramid_down(image(box), levels[0]);
  for (size_t i = 1; i < levels.size(); i++) pyramid_down(levels[i - 1], levels[i]);

  int level = -1;
  DRect r{rect.l - origin.x - box.x, rect.t - origin.y - box.y, rect.r - origin.x - box.x,
          rect.b - origin.y - box.y};
  while (rect_down(r).area() > chip_area) {
    level++;
    r = rect_down(r);
  }
  const cv::Mat source = level < 0 ? image(box) : levels[(size_t)level];
  if (source.empty()) return;
  // Chip (0,0), (size-1,0), (0,size-1) -> the rotated corners tl, tr, bl.
  const cv::Point2d c(r.l + (r.r - r.l) / 2, r.t + (r.b - r.t) / 2);
  const cv::Point2d tl = rotate(c, {r.l, r.t}, chip.angle), tr = rotate(c, {r.r, r.t}, chip.angle),
                    bl = rotate(c, {r.l, r.b}, chip.angle);
  const double last = size > 1 ? size - 1 : 1;
  const double ax = (tr.x - tl.x) / last, ay = (tr.y - tl.y) / last;
  const double bx = (bl.x - tl.x) / last, by = (bl.y - tl.y) / last;
  // interpolate_bilinear: all four neighbours inside, else the pixel stays 0;
  // the weighted sum in double, stored truncated to 8 bits.
  for (int v = 0; v < size; v++) {
    uint8_t *o = dst.ptr<uint8_t>(v);
    for (int u = 0; u < size; u++) {
      const double x = tl.x + ax * u + bx * v, y = tl.y + ay * u + by * v;
      const double fx = std::floor(x), fy = std::floor(y);
      if (!(fx >= 0 && fy >= 0 && fx + 1 < source.cols && fy + 1 < source.rows)) continue;
      const int left = (int)fx, top = (int)fy;
      const double lr = x - fx, tb = y - fy;
      const uint8_t *p0 = source.ptr<uint8_t>(top) + left * n, *p1 = source.ptr<uint8_t>(top + 1) + left * n;
      for (int k = 0; k < n; k++) {
        const double value = (1 - tb) * ((1 - lr) * p0[k] + lr * p0[n + k]) + tb * ((1 - lr) * p1[k] + lr * p1[n + k]);
        o[u * n + k] = (uint8_t)std::min(255.0, std::max(0.0, value));
      }
    }
  }
  if (chip.mirror) cv::flip(dst, dst, 1);
}
