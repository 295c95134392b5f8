"""Operator images (+, -, x) for apply2x2: a procedural synthetic default and an ImageFolder reader.

- **synthetic** (default, offline, no files): 32x32 grayscale drawings made with numpy: dark
  strokes on a light background like HASY's, each symbol drawn from jittered line segments (centre,
  size, rotation, stroke width and end points vary) with pixel noise. It is *synthetic*, not
  handwriting; reports say so (``describe()['operators']``).
- **folder**: real images from an ImageFolder-style directory with a training and a test split,
  e.g. the paper's HASY set (``apply2x2_train/`` and ``apply2x2_test/``, each with ``0plus``,
  ``1minus``, ``2times``) or the unpacked ``mdas_symbols_v1.zip`` (``train/``, ``test/`` with
  ``addition_plus``, ``subtraction_minus``, ``multiplication_cross``; other classes are ignored).
  The split folders are the subfolders whose names contain ``train`` and ``test``; a class folder
  is +, - or x when its name contains ``plus``, ``minus``, or ``times``/``cross``. Images are read
  with Pillow, converted to grayscale (ITU-R 601-2 luma, as torchvision's ``Grayscale``) and
  resized to 32x32 when they are not. Indices follow torchvision's ImageFolder order (class folders
  sorted by name, then file names sorted), so the paper's ``apply2x2_train.txt`` indices work.

Labels: 0 = +, 1 = -, 2 = x (the paper's operator numbering).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

from harness.errors import UserError

SIDE = 32
NAMES = ("+", "-", "x")
KEYWORDS = (("plus",), ("minus",), ("times", "cross"))
IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


@dataclass(frozen=True)
class OperatorImages:
    train_x: np.ndarray  # uint8 (N, 32, 32)
    train_y: np.ndarray  # int64 (N,)
    test_x: np.ndarray
    test_y: np.ndarray
    source: str


def _segment_ink(yy, xx, p0, p1, width):
    """Ink in [0,1] of a stroke from p0 to p1 (pixel coordinates) of the given width."""
    d = p1 - p0
    t = np.clip(((yy - p0[0]) * d[0] + (xx - p0[1]) * d[1]) / max(float(d @ d), 1e-9), 0.0, 1.0)
    dist = np.hypot(yy - (p0[0] + t * d[0]), xx - (p0[1] + t * d[1]))
    return np.clip(width / 2 + 0.5 - dist, 0.0, 1.0)


def draw_operator(label: int, rng: np.random.Generator) -> np.ndarray:
    """One synthetic 32x32 uint8 image of operator ``label`` (dark ink on a light background)."""
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64)
    centre = SIDE / 2 - 0.5 + rng.uniform(-3, 3, size=2)
    half = rng.uniform(7.0, 13.0)
    width = rng.uniform(1.2, 3.0)
    base = {0: (0.0, 90.0), 1: (0.0,), 2: (45.0, 135.0)}[label]
    ink = np.zeros((SIDE, SIDE))
    for angle in base:
        a = np.deg2rad(angle + rng.uniform(-12, 12))
        direction = np.array([np.sin(a), np.cos(a)])
        p0 = centre - direction * half * rng.uniform(0.75, 1.1) + rng.uniform(-1, 1, 2)
        p1 = centre + direction * half * rng.uniform(0.75, 1.1) + rng.uniform(-1, 1, 2)
        ink = np.maximum(ink, _segment_ink(yy, xx, p0, p1, width))
    img = 1.0 - ink * rng.uniform(0.75, 1.0) + rng.normal(0, 0.04, ink.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


@functools.lru_cache(maxsize=2)
def synthetic_operators(n_train_per_class: int = 500, n_test_per_class: int = 100, seed: int = 0) -> OperatorImages:
    """Balanced synthetic sets, fixed by ``seed`` (train and test drawn from separate streams)."""
    out = []
    for split, n, s in (("train", n_train_per_class, seed), ("test", n_test_per_class, seed + 1)):
        rng = np.random.default_rng(s)
        y = np.repeat(np.arange(3), n)
        out += [np.stack([draw_operator(int(c), rng) for c in y]), y.astype(np.int64)]
    return OperatorImages(*out, source=f"synthetic (procedural numpy drawings, seed {seed})")


def _split_dir(directory: str, word: str) -> str:
    subs = sorted(d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d)) and word in d.lower())
    if len(subs) != 1:
        raise UserError(
            f"operators directory {directory}: expected one subfolder whose name contains {word!r} "
            f"(found {subs or 'none'}); give a folder with a training and a test split"
        )
    return os.path.join(directory, subs[0])


def _read_split(path: str) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    classes = {}
    for name in sorted(os.listdir(path)):
        if not os.path.isdir(os.path.join(path, name)):
            continue
        for label, words in enumerate(KEYWORDS):
            if any(w in name.lower() for w in words):
                if label in classes.values():
                    raise UserError(f"{path}: two class folders for operator {NAMES[label]!r}; keep one")
                classes[name] = label
    missing = [NAMES[k] for k in range(3) if k not in classes.values()]
    if missing:
        raise UserError(
            f"{path}: no class folder for operator(s) {', '.join(missing)}; class folder names must "
            "contain plus, minus and times (or cross), e.g. 0plus/1minus/2times"
        )
    xs, ys = [], []
    for name in sorted(classes):  # ImageFolder order: classes by folder name, then file names
        folder = os.path.join(path, name)
        for fname in sorted(os.listdir(folder)):
            if not fname.lower().endswith(IMAGE_EXT):
                continue
            try:
                with Image.open(os.path.join(folder, fname)) as im:
                    g = im.convert("L")
                    if g.size != (SIDE, SIDE):
                        g = g.resize((SIDE, SIDE), Image.BILINEAR)
                    xs.append(np.asarray(g, dtype=np.uint8))
            except OSError as e:
                raise UserError(f"cannot read image {os.path.join(folder, fname)}: {e}; remove or replace it") from None
            ys.append(classes[name])
    if not xs:
        raise UserError(f"{path}: no images found in the operator class folders")
    return np.stack(xs), np.asarray(ys, dtype=np.int64)


@functools.lru_cache(maxsize=4)
def load_operator_folder(directory: str) -> OperatorImages:
    if not os.path.isdir(directory):
        raise UserError(f"operators directory not found: {directory}; pass --data-dir operators=DIR")
    tr = _read_split(_split_dir(directory, "train"))
    te = _read_split(_split_dir(directory, "test"))
    return OperatorImages(tr[0], tr[1], te[0], te[1], source=f"images:{directory}")


def load_operators(directory: str | None) -> OperatorImages:
    """Real images from ``directory`` when given, else the synthetic default."""
    if directory:
        return load_operator_folder(os.path.abspath(directory))
    return synthetic_operators()
