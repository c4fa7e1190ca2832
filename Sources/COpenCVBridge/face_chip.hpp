// dlib's extract_image_chip for the face chips (face_chip.cpp).
#pragma once

#include "opencv_bridge.h"

#include <opencv2/core.hpp>

// Cuts `chip` from src (any 8-bit channel count) into dst (size x size, src's
// type), as dlib does; replicate_border: pixels beyond the image repeat its
// edge (dlib reads them as black).
void extract_face_chip(const cv::Mat &src, const agb_face_chip &chip, int size, bool replicate_border,
                       cv::Mat &dst);
