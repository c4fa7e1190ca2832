/*
 * opencv_image_io.h: reading and writing image files with OpenCV's imgcodecs,
 * for tools and tests. Kept out of the plugin: Debian's libopencv_imgcodecs
 * pulls in GDAL and ~37 MB of resident libraries that a GStreamer element
 * (which gets decoded frames) never needs.
 */
#ifndef AGB_OPENCV_IMAGE_IO_H
#define AGB_OPENCV_IMAGE_IO_H

#include "opencv_bridge.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads an image file as packed BGR. *pixels is malloc'd; free with agb_free. */
int32_t agb_read_image(const char *path, uint8_t **pixels, int32_t *width, int32_t *height, agb_error *err);
/* Writes a packed image to a file (format by extension). */
int32_t agb_write_image(const char *path, const agb_image *image, agb_error *err);
/* Encodes a packed image in memory as the file format of `extension` (".jpg",
 * ".png"); *bytes is malloc'd (free with agb_free), *count its length. */
int32_t agb_encode_image(const agb_image *image, const char *extension, uint8_t **bytes, int32_t *count,
                         agb_error *err);

#ifdef __cplusplus
}
#endif

#endif
