#!/usr/bin/env python3
"""Fits the agegender element's calibration (Sources/FaceAnalysis/ChipAugmentation.swift)
from a labelled set and the element's uncalibrated predictions.

    .build/release/agegender-eval ../shared/testdata/tuning augment=MODE calibration=false \\
        --predictions raw.csv
    python3 scripts/fit_calibration.py ../shared/testdata/tuning/labels.csv raw.csv

Prints, for that augmentation mode:
- gender: a logistic regression of the true gender on the female log-odds z and
  the net's expected age a (years): p = sigmoid((slope + slope_per_year * a) * z
  + offset + offset_per_year * a), by maximum likelihood. The gender net is
  less reliable on children and leans female there, so the weight of its
  log-odds and the threshold depend on the age. Prints its accuracy in-sample
  and in 5-fold cross-validation (10 repeats) against temperature scaling
  alone (slope only, no label changes), and the expected calibration error
  (10 bins of gender-confidence 0.5-1) before and after;
- age: a monotone piecewise-linear map from the expected age to the median true
  age in 6 equal-count bins of the estimate (the median minimises the absolute
  error), with its MAE in-sample and in 5-fold cross-validation (10 repeats);
- age interval: the 10th and 90th percentiles of log(1 + true) - log(1 + age)
  after the map (an 80% interval), its coverage and mean width.
Standard library only (the numbers are small).
"""
import csv
import math
import random
import sys

BINS = 6


def read(labels_path, predictions_path):
    labels = {r["file"]: r for r in csv.DictReader(open(labels_path))}
    rows = []
    for r in csv.DictReader(open(predictions_path)):
        if r["detected"] != "1":
            continue
        label = labels[r["file"]]
        if label["age_min"] != label["age_max"]:
            continue
        confidence = float(r["gender_confidence"])
        female = confidence if r["gender"] == "female" else 1 - confidence
        female = min(max(female, 1e-7), 1 - 1e-7)
        rows.append((math.log(female / (1 - female)), float(r["age"]), label["gender"] == "female",
                     float(label["age_min"])))
    return rows, len(labels)


def ece(pairs):
    """pairs: (confidence of the reported gender, right)."""
    bins = [[0, 0.0, 0] for _ in range(10)]
    for c, right in pairs:
        b = min(9, int((c - 0.5) / 0.05))
        bins[b][0] += 1
        bins[b][1] += c
        bins[b][2] += right
    n = len(pairs)
    return sum(k / n * abs(r / k - s / k) for k, s, r in bins if k)


def confidences(rows, slope):
    out = []
    for logit, _, female, _ in rows:
        p = 1 / (1 + math.exp(-slope * logit))
        out.append((max(p, 1 - p), (p >= 0.5) == female))
    return out


def fit_slope(rows):
    best = None
    for i in range(1, 301):
        slope = i / 200
        nll = 0.0
        for logit, _, female, _ in rows:
            z = slope * logit
            nll += math.log1p(math.exp(-z)) if female else math.log1p(math.exp(z))
        if best is None or nll < best[0]:
            best = (nll, slope)
    return best[1]


def fit_gender(rows, features):
    """Newton's method for the logistic regression of female on features(z, a)
    (with an intercept); returns the weights."""
    xs = [features(z, a) + [1.0] for z, a, _, _ in rows]
    ys = [1.0 if female else 0.0 for _, _, female, _ in rows]
    n = len(xs[0])
    w = [0.0] * n
    for _ in range(30):
        grad = [0.0] * n
        hess = [[1e-6 * (i == j) for j in range(n)] for i in range(n)]
        for x, y in zip(xs, ys):
            t = sum(wi * xi for wi, xi in zip(w, x))
            p = 1 / (1 + math.exp(-max(-30.0, min(30.0, t))))
            for i in range(n):
                grad[i] += (p - y) * x[i]
                for j in range(n):
                    hess[i][j] += p * (1 - p) * x[i] * x[j]
        # Solve hess * step = grad (Gauss-Jordan; n is 2 or 4).
        m = [row[:] + [g] for row, g in zip(hess, grad)]
        for c in range(n):
            pivot = max(range(c, n), key=lambda r: abs(m[r][c]))
            m[c], m[pivot] = m[pivot], m[c]
            for r in range(n):
                if r != c:
                    f = m[r][c] / m[c][c]
                    m[r] = [a - f * b for a, b in zip(m[r], m[c])]
        w = [wi - m[i][n] / m[i][i] for i, wi in enumerate(w)]
    return w


def age_aware(z, a):
    return [z, z * a / 40, a / 40]


def female_probability(w, features, z, a):
    t = sum(wi * xi for wi, xi in zip(w, features(z, a) + [1.0]))
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, t))))


def gender_cv(rows, fit, repeats=10):
    """Images right in 5-fold cross-validation (mean over repeats) of a fit
    (rows -> probability function)."""
    rng = random.Random(0)
    totals = []
    for _ in range(repeats):
        folds = [rng.randrange(5) for _ in rows]
        right = 0
        for k in range(5):
            prob = fit([r for r, f in zip(rows, folds) if f != k])
            right += sum((prob(z, a) >= 0.5) == female for (z, a, female, _), f in zip(rows, folds) if f == k)
        totals.append(right)
    return sum(totals) / len(totals)


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def fit_age_map(pairs):
    """pairs: (estimate, true). Knots at the bins' median estimate -> median true age."""
    pairs = sorted(pairs)
    n = len(pairs)
    xs, ys = [], []
    for b in range(BINS):
        chunk = pairs[b * n // BINS:(b + 1) * n // BINS]
        xs.append(median([p[0] for p in chunk]))
        ys.append(median([p[1] for p in chunk]))
    for k in range(1, len(ys)):  # monotone
        ys[k] = max(ys[k], ys[k - 1])
    return xs, ys


def apply_map(xs, ys, x):
    if x <= xs[0]:
        return max(0.0, ys[0] + x - xs[0])
    if x >= xs[-1]:
        return ys[-1] + x - xs[-1]
    k = 1
    while xs[k] < x:
        k += 1
    t = (x - xs[k - 1]) / max(1e-9, xs[k] - xs[k - 1])
    return ys[k - 1] + t * (ys[k] - ys[k - 1])


def percentile(values, q):
    v = sorted(values)
    pos = q * (len(v) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def main():
    rows, images = read(sys.argv[1], sys.argv[2])
    slope = fit_slope(rows)
    before, after = ece(confidences(rows, 1.0)), ece(confidences(rows, slope))
    right = sum(1 for logit, _, female, _ in rows if (logit >= 0) == female)
    print(f"faces {len(rows)} of {images}; gender right {right} ({100 * right / images:.2f}% of all images)")
    print(f"gender, temperature only: slope {slope:.3f}, ECE {before:.4f} -> {after:.4f}")
    w = fit_gender(rows, age_aware)
    g_slope, g_slope_year, g_offset_year, g_offset = w[0], w[1] / 40, w[2] / 40, w[3]
    probs = [(female_probability(w, age_aware, z, a), female) for z, a, female, _ in rows]
    aware_right = sum((p >= 0.5) == female for p, female in probs)
    aware_ece = ece([(max(p, 1 - p), (p >= 0.5) == female) for p, female in probs])
    cv_temperature = gender_cv(rows, lambda train: (lambda z, a: 1 / (1 + math.exp(-z))))
    cv_aware = gender_cv(rows, lambda train: (lambda ww: (lambda z, a: female_probability(ww, age_aware, z, a)))(
        fit_gender(train, age_aware)))
    print(f"gender, age-aware: slope {g_slope:.4f} + {g_slope_year:.5f}/year, offset {g_offset:.4f} + "
          f"{g_offset_year:.5f}/year: right {aware_right} ({100 * aware_right / images:.2f}% of all images), "
          f"ECE {before:.4f} -> {aware_ece:.4f}")
    print(f"gender right in 5-fold cross-validation (10 repeats): temperature only {cv_temperature:.1f}, "
          f"age-aware {cv_aware:.1f} of {images}")

    pairs = [(age, true) for _, age, _, true in rows]
    xs, ys = fit_age_map(pairs)
    raw = sum(abs(a - t) for a, t in pairs) / len(pairs)
    mapped = [apply_map(xs, ys, a) for a, _ in pairs]
    fitted = sum(abs(m - t) for m, (_, t) in zip(mapped, pairs)) / len(pairs)
    rng = random.Random(0)
    cv = []
    for _ in range(10):
        folds = [rng.randrange(5) for _ in pairs]
        total = 0.0
        for k in range(5):
            train = [p for p, f in zip(pairs, folds) if f != k]
            mx, my = fit_age_map(train)
            total += sum(abs(apply_map(mx, my, a) - t) for (a, t), f in zip(pairs, folds) if f == k)
        cv.append(total / len(pairs))
    print(f"age map: from {[round(x, 2) for x in xs]} to {[round(y, 2) for y in ys]}")
    print(f"age MAE {raw:.3f} -> {fitted:.3f} (5-fold cross-validated {sum(cv) / len(cv):.3f})")

    residuals = [math.log1p(t) - math.log1p(m) for m, (_, t) in zip(mapped, pairs)]
    low, high = percentile(residuals, 0.1), percentile(residuals, 0.9)
    covered = width = 0
    for m, (_, t) in zip(mapped, pairs):
        lo, hi = max(0.0, math.expm1(math.log1p(m) + low)), math.expm1(math.log1p(m) + high)
        covered += lo <= t <= hi
        width += hi - lo
    print(f"age interval: low {low:.4f} high {high:.4f}: coverage {covered / len(pairs):.3f}, "
          f"mean width {width / len(pairs):.2f} years")
    print("Swift:")
    print(f"  Calibration(\n    gender: GenderCalibration(\n      slope: {g_slope:.4f}, slopePerYear: {g_slope_year:.5f}, "
          f"offset: {g_offset:.4f}, offsetPerYear: {g_offset_year:.5f}),")
    print(f"    age: AgeCalibration(\n      from: [{', '.join(f'{x:.2f}' for x in xs)}],")
    print(f"      to: [{', '.join(f'{y:.1f}' for y in ys)}]),")
    print(f"    ageInterval: AgeIntervalCalibration(low: {low:.4f}, high: {high:.4f}))")


if __name__ == "__main__":
    main()
