/*
 * opencv_bridge.h: the only door from Swift into OpenCV.
 *
 * Swift cannot survive a C++ exception (the runtime is built without them, so a
 * thrown cv::Exception would abort the host process). Every function here
 * catches everything and reports failure through its return value and an
 * agb_error message instead. Images are passed as views over caller memory:
 * nothing is copied unless the function says so.
 */
#ifndef AGB_OPENCV_BRIDGE_H
#define AGB_OPENCV_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Byte order of one pixel in memory, named as GStreamer names its formats. */
typedef enum {
  AGB_PIXEL_BGR = 0,
  AGB_PIXEL_RGB = 1,
  AGB_PIXEL_BGRX = 2,
  AGB_PIXEL_BGRA = 3,
  AGB_PIXEL_RGBX = 4,
  AGB_PIXEL_RGBA = 5,
  AGB_PIXEL_XBGR = 6,
  AGB_PIXEL_ABGR = 7,
  AGB_PIXEL_XRGB = 8,
  AGB_PIXEL_ARGB = 9,
  AGB_PIXEL_GRAY8 = 10,
} agb_pixel_format;

/* Chroma planes of a planar YUV 4:2:0 frame (as decoders output it). */
typedef enum {
  AGB_CHROMA_NONE = 0, /* packed pixels */
  AGB_CHROMA_I420 = 1, /* u and v: separate planes, (width+1)/2 x (height+1)/2 */
  AGB_CHROMA_NV12 = 2, /* u: one plane of interleaved U,V pairs; v unused */
} agb_chroma_layout;

/* A view over pixels; strides are in bytes. A planar YUV frame is its Y plane
 * (data, stride, format GRAY8: what needs only brightness reads it as is) plus
 * its chroma planes; functions that need colour refuse it, and
 * agb_yuv_to_bgr converts it first. YUV is taken as BT.601 video range. */
typedef struct {
  uint8_t *data;
  int32_t width;
  int32_t height;
  int32_t stride;
  int32_t format; /* agb_pixel_format */
  int32_t chroma; /* agb_chroma_layout */
  uint8_t *u;
  uint8_t *v;
  int32_t chroma_stride;
} agb_image;

typedef struct {
  char message[512];
} agb_error;

/* How a network wants its input tensor laid out and normalised:
 * value = (pixel - mean[c]) * scale, channels in rgb ? R,G,B : B,G,R order. */
typedef struct {
  int32_t width;
  int32_t height;
  int32_t rgb;
  float mean[3];
  float scale;
} agb_input_spec;

typedef struct {
  float x, y, width, height; /* pixels of the analysed image */
  float score;
} agb_detection;

typedef struct agb_net agb_net;

/* Loading. NULL on failure with the reason in err. */
agb_net *agb_net_load_caffe(const char *prototxt_path, const char *model_path, agb_error *err);
agb_net *agb_net_load_onnx(const char *model_path, agb_error *err);
void agb_net_free(agb_net *net);

/* Hands the heap's free pages back to the system (glibc malloc_trim): the
 * models take ~90 MB in many blocks, which glibc would otherwise keep mapped
 * after an element stops. */
void agb_release_free_memory(void);

/* Runs one forward pass on a zero input of the spec's size (batch of `batch`),
 * so weights that parsed but do not fit the graph fail here, at load time, not
 * on the first frame. Returns the number of output values per batch item, or -1. */
int32_t agb_net_check(agb_net *net, const agb_input_spec *spec, int32_t batch, agb_error *err);

/* OpenCV's own worker-thread count (cv::setNumThreads); < 0 keeps OpenCV's default. */
void agb_set_num_threads(int32_t threads);
int32_t agb_get_num_threads(void);

/*
 * Runs an SSD face detector (res10 DetectionOutput layout) on the image.
 * The image is letterboxed into the network input with `padding` (a fraction of
 * the longer side added on every side), so a face that fills the frame still has
 * the context the detector was trained with. Boxes come back in image pixels,
 * clipped to the image, best first. Returns the number written (<= capacity) or -1.
 */
int32_t agb_ssd_detect(agb_net *net, const agb_image *image, const agb_input_spec *spec,
                       float padding, float threshold, agb_detection *out, int32_t capacity,
                       agb_error *err);

/*
 * Runs a network on the image and copies out the named outputs (e.g. a
 * detector's heatmaps, decoded by the caller). The image is resized (area
 * averaging when shrinking) into the region (x, y, width, height) of a
 * spec->width x spec->height input whose rest is the mean colour (zero after
 * normalisation). The outputs are written one after another, each as the
 * network lays it out (NCHW); sizes[i] receives output i's value count.
 * Returns the number of floats written, or -1 (also when out is too small).
 */
int32_t agb_forward_outputs(agb_net *net, const agb_image *image, const agb_input_spec *spec, int32_t x,
                            int32_t y, int32_t width, int32_t height, const char *const *names,
                            int32_t name_count, float *out, int32_t capacity, int32_t *sizes,
                            agb_error *err);

/*
 * Cuts one chip per face and classifies each (one forward per chip at batch 1:
 * a varying batch makes cv::dnn re-plan the net on every change of shape).
 * transforms: count * 6 floats, each a 2x3 affine matrix mapping chip pixel
 * coordinates to image pixel coordinates (row-major: a b c / d e f, so
 * x_img = a*u + b*v + c). Chips are resampled with area averaging first when
 * the face is much larger than the chip, so large faces are not aliased.
 * out receives count * classes floats (the network's output rows).
 * Returns classes, or -1.
 */
int32_t agb_classify_chips(agb_net *net, const agb_image *image, const float *transforms,
                           int32_t count, const agb_input_spec *spec, float *out,
                           int32_t out_capacity, agb_error *err);

/*
 * Writes the chip (the same resampling as agb_classify_chips) into `chip`,
 * which must be a chip-sized image of the same pixel format. For tests and tools.
 */
int32_t agb_extract_chip(const agb_image *image, const float transform[6], agb_image *chip,
                         agb_error *err);

/*
 * A face chip as dlib places it (chip_details from get_face_chip_details): the
 * chip's corner pixels sample the corners of a square of side `side` (dlib's
 * rect.right() - rect.left()) centred at (cx, cy) in image pixels, rotated by
 * `angle` radians about its centre; `mirror` non-zero flips the chip left-right.
 */
typedef struct {
  double cx, cy, side, angle;
  int32_t mirror;
} agb_face_chip;

/* How face chips treat pixels beyond the image. */
typedef enum {
  AGB_BORDER_BLACK = 0,     /* as dlib: black */
  AGB_BORDER_REPLICATE = 1, /* the image's edge pixels repeated */
} agb_chip_border;

/*
 * Cuts each face chip exactly as dlib's extract_image_chip does (its 2x image
 * pyramid, then bilinear sampling; face_chip.cpp) at the network's input size
 * and classifies it, one forward per chip. out receives count * classes floats.
 * Returns classes, or -1.
 */
int32_t agb_classify_face_chips(agb_net *net, const agb_image *image, const agb_face_chip *chips, int32_t count,
                                int32_t border, const agb_input_spec *spec, float *out, int32_t out_capacity,
                                agb_error *err);

/* Writes one face chip (as agb_classify_face_chips cuts it) into `chip`, a
 * square image of the source's pixel format. For tests and tools. Returns 0, or -1. */
int32_t agb_extract_face_chip(const agb_image *image, const agb_face_chip *face, int32_t border, agb_image *chip,
                              agb_error *err);

/* Converts a planar YUV frame to packed BGR of the same size in `dst`
 * (BGR, at least as large). Returns 0, or -1. */
int32_t agb_yuv_to_bgr(const agb_image *src, agb_image *dst, agb_error *err);

/* Draws a box and a label with a filled background; colour is R,G,B. Planar
 * YUV frames are drawn on in place too (the text in the Y plane only). */
int32_t agb_draw_labelled_box(agb_image *image, int32_t x, int32_t y, int32_t width,
                              int32_t height, const char *label, uint8_t r, uint8_t g,
                              uint8_t b, agb_error *err);

/*
 * Face appearance between detections. agb_grey_patch writes the grey pixels of
 * the image region (x, y, width, height) (edges repeated where it sticks out),
 * area-resampled to size x size, into `patch`. agb_find_patch looks for such a
 * patch around the region (x, y, width, height) widened by `margin` region
 * sizes on every side, at the patch's scale (normalised cross-correlation,
 * sub-pixel peak), and writes the best match's top-left in image pixels and
 * its score (-1..1). Both return 0, or -1.
 */
int32_t agb_grey_patch(const agb_image *image, float x, float y, float width, float height, int32_t size,
                       uint8_t *patch, agb_error *err);
int32_t agb_find_patch(const agb_image *image, const uint8_t *patch, int32_t size, float x, float y, float width,
                       float height, float margin, float *found_x, float *found_y, float *score, agb_error *err);

/*
 * Privacy (agegender's `anonymize`): makes each face unrecognisable in place.
 * boxes: count * 4 floats (x, y, width, height in image pixels). Each box is
 * enlarged by `margin` times its width (left and right) and height (top and
 * bottom), clipped to the frame, and then
 *  - AGB_ANONYMIZE_BLUR: Gaussian-blurred with sigma = 1/4 of the region's longer
 *    side (so eyes, nose and mouth merge whatever the face size), computed on
 *    an area-downscaled copy for speed and scaled back;
 *  - AGB_ANONYMIZE_PIXELATE: area-averaged to blocks of 1/3 of the longer side
 *    (at least 2 px) and scaled back with nearest neighbour.
 * Pixels outside the regions are not touched. Planar frames: the Y plane's
 * region, and the chroma planes' region at half resolution (rounded outward,
 * so it covers every chroma sample the luma region shares).
 * Returns 0, or -1.
 */
typedef enum {
  AGB_ANONYMIZE_NONE = 0,
  AGB_ANONYMIZE_BLUR = 1,
  AGB_ANONYMIZE_PIXELATE = 2,
} agb_anonymize_mode;

int32_t agb_anonymize_boxes(agb_image *image, const float *boxes, int32_t count, int32_t mode, float margin,
                            agb_error *err);

/* Frees memory the bridge (or opencv_image_io.h) handed out. */
void agb_free(void *pointer);

/*
 * Haar cascade face detection (cv::CascadeClassifier, haar.cpp), e.g. Debian
 * opencv-data's haarcascade_frontalface_default.xml. Calls on one instance are
 * serialised by a lock.
 */
typedef struct agb_cascade agb_cascade;

typedef struct {
  double scale_factor;   /* > 1, e.g. 1.1 */
  int32_t min_neighbors; /* e.g. 5 */
  int32_t min_size;      /* smallest face side in pixels; 0: the cascade's window */
  int32_t max_size;      /* largest face side in pixels; 0: no limit */
  int32_t equalize;      /* non-zero: equalizeHist on the grey image first */
  int32_t level_weights; /* non-zero: score = the group's largest last-stage sum minus that stage's
                            threshold (detectMultiScale3's level weight as a margin, >= 0), else 1 */
} agb_cascade_params;

/* NULL on failure (missing file, not a cascade) with the reason, naming the file, in err. */
agb_cascade *agb_cascade_load(const char *path, agb_error *err);
void agb_cascade_free(agb_cascade *cascade);
/* Detects on a grey copy of the image (any agb_pixel_format). Boxes in image
 * pixels, clipped, best first (score, then area). Returns the number written
 * (<= capacity) or -1. */
int32_t agb_cascade_detect(agb_cascade *cascade, const agb_image *image, const agb_cascade_params *params,
                           agb_detection *out, int32_t capacity, agb_error *err);

#ifdef __cplusplus
}
#endif

#endif
