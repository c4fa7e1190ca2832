"""The loop a Python user would write (the tutorial's, with our default models):
OpenCV 4.6 from Debian (python3-opencv), res10 SSD face detection and the Cydral
age and gender nets through cv2.dnn on every frame, labels drawn.

Usage: python_loop.py VIDEO MODEL_DIR  -> prints 'frames=N seconds=S fps=F faces=K'
(model loading is outside the timed loop, as the GStreamer runs exclude it too).
"""
import sys
import time

import cv2
import numpy as np


def main():
    video, models = sys.argv[1], sys.argv[2]
    weights = models + "/weights/"
    detector = cv2.dnn.readNetFromCaffe(weights + "res10_300x300_ssd_deploy.prototxt",
                                        weights + "res10_300x300_ssd_iter_140000.caffemodel")
    age_net = cv2.dnn.readNetFromONNX(weights + "cydral-age-v1.onnx")
    gender_net = cv2.dnn.readNetFromONNX(weights + "cydral-gender-v1.onnx")
    ages = np.array([0.25] + list(range(1, 81)), dtype=np.float64)
    mean = (122.782, 117.001, 104.298)
    capture = cv2.VideoCapture(video)
    frames = faces = 0
    start = time.monotonic()
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames += 1
        h, w = frame.shape[:2]
        detector.setInput(cv2.dnn.blobFromImage(frame, 1.0, (300, 300), (104, 177, 123)))
        detections = detector.forward()[0, 0]
        for row in detections:
            if row[2] < 0.5 or not (0 <= row[3] < row[5] <= 1 and 0 <= row[4] < row[6] <= 1):
                continue
            x1, y1, x2, y2 = (row[3:7] * [w, h, w, h]).astype(int)
            # A padded square crop around the box, as the nets' chips include context.
            side = int((x2 - x1) * 1.2)
            cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
            crop = frame[max(0, cy - side // 2):cy + side // 2, max(0, cx - side // 2):cx + side // 2]
            if crop.size == 0:
                continue
            age_net.setInput(cv2.dnn.blobFromImage(crop, 1 / 256, (64, 64), mean, swapRB=True))
            age = float(age_net.forward()[0] @ ages)
            gender_net.setInput(cv2.dnn.blobFromImage(crop, 1 / 256, (32, 32), mean, swapRB=True))
            female = gender_net.forward()[0][0] > 0.5
            label = f"{'Female' if female else 'Male'}, {age:.0f}"
            cv2.rectangle(frame, (x1, y1), (x2, y2), (255, 0, 255), 2)
            cv2.putText(frame, label, (x1, max(0, y1 - 5)), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 0, 255), 2)
            faces += 1
    seconds = time.monotonic() - start
    print(f"frames={frames} seconds={seconds:.3f} fps={frames / seconds:.2f} faces={faces}")


if __name__ == "__main__":
    main()
