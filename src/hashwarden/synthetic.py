"""Benign synthetic photos and their transformed copies, for the demo, tests and benchmarks.

Every image is generated from a seed: smooth colour gradients, random shapes and noise. Nothing
here depicts a person; the images only need PDQ features that differ from seed to seed.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

__all__ = ["TRANSFORMS", "jpeg_bytes", "png_bytes", "synthetic_photo", "transform"]


def synthetic_photo(seed: int, width: int = 640, height: int = 480) -> Image.Image:
    """A photo-like RGB image unique to `seed`."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.zeros((height, width, 3), dtype=np.float32)
    for channel in range(3):
        fx, fy = rng.uniform(0.5, 3.0, size=2)
        phase = rng.uniform(0, 2 * np.pi)
        base[..., channel] = 128 + 90 * np.sin(fx * 2 * np.pi * x / width + phase) * np.cos(
            fy * 2 * np.pi * y / height
        )
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(6, 14))):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        w, h = rng.integers(width // 12, width // 3), rng.integers(height // 12, height // 3)
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        box = (int(x0), int(y0), int(x0 + w), int(y0 + h))
        if rng.random() < 0.5:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    noise = rng.normal(0, 6, size=(height, width, 3))
    pixels = np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _crop(image: Image.Image) -> Image.Image:
    w, h = image.size
    return image.crop((w // 100, h // 100, w - w // 100, h - h // 100))


TRANSFORMS = {
    "resized": lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
    "recompressed": lambda im: Image.open(io.BytesIO(jpeg_bytes(im, quality=35))).convert("RGB"),
    "cropped": _crop,
    "greyscale": lambda im: ImageOps.grayscale(im).convert("RGB"),
    "brighter": lambda im: ImageEnhance.Brightness(im).enhance(1.25),
}


def transform(image: Image.Image, name: str) -> Image.Image:
    """Apply one of TRANSFORMS by name."""
    return TRANSFORMS[name](image)
