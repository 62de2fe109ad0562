"""Make synthetic scans: a PDF's pages rendered to images, degraded like a cheap office scan, and
wrapped as an image-only PDF (no text layer), to test the OCR path against the text-layer build
of the same document (issue 15, item 4).

    python scripts/make_scans.py tests/fixtures/gz-zwfwsjglj-2023-budget.pdf /tmp/scan.pdf \
        --dpi 150 --skew 0.6 --blur 0.6 --noise 12 --jpeg 60 --pages 6-9,21

Rendering is poppler's ``pdftoppm`` (Debian poppler-utils); the degradation and the PDF are
Pillow's. Deterministic: the noise comes from a seeded generator, so a scan made twice is the
same file. Generated scans are test data made on the fly: never commit them.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter


@dataclass(frozen=True)
class Degradation:
    """How a page is spoiled: resolution, rotation (degrees, alternating sign page by page as a
    hand-fed scanner does), Gaussian blur radius (pixels), noise (standard deviation in grey
    levels) and JPEG quality (0: stored losslessly)."""

    dpi: int = 150
    skew: float = 0.6
    blur: float = 0.6
    noise: float = 12.0
    jpeg: int = 60
    seed: int = 15


def parse_pages(spec: str | None) -> list[int] | None:
    """``"6-9,21"`` → [6, 7, 8, 9, 21]; None → all pages."""
    if not spec:
        return None
    pages: list[int] = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        pages.extend(range(int(first), int(last or first) + 1))
    return pages


def render(pdf: Path, page: int, dpi: int, workdir: Path) -> Image.Image:
    """One page as a greyscale image, by pdftoppm."""
    if shutil.which("pdftoppm") is None:
        raise SystemExit("make_scans: pdftoppm not found (apt-get install poppler-utils)")
    stem = workdir / f"p{page}"
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-gray", "-png", "-singlefile"]
        + ["-f", str(page), "-l", str(page), str(pdf), str(stem)],
        check=True,
    )
    with Image.open(f"{stem}.png") as im:
        return im.convert("L")


def degrade(image: Image.Image, how: Degradation, index: int) -> Image.Image:
    """Skew, blur, noise and JPEG artefacts, like a page fed by hand into an office scanner."""
    angle = how.skew if index % 2 == 0 else -how.skew
    out = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
    if how.blur > 0:
        out = out.filter(ImageFilter.GaussianBlur(how.blur))
    if how.noise > 0:
        rng = np.random.default_rng(how.seed + index)
        pixels = np.asarray(out, dtype=np.float32) + rng.normal(0.0, how.noise, (out.height, out.width))
        out = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L")
    if how.jpeg > 0:
        buffer = io.BytesIO()
        out.save(buffer, format="JPEG", quality=how.jpeg)
        buffer.seek(0)
        out = Image.open(buffer)
        out.load()
    return out


def make_scan(pdf: Path, target: Path, how: Degradation, pages: Sequence[int] | None = None) -> Path:
    """Write an image-only PDF of `pages` (all when None) of `pdf`, degraded as `how` says."""
    if pages is None:
        out = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
        count = next(int(line.split()[-1]) for line in out.splitlines() if line.startswith("Pages:"))
        pages = range(1, count + 1)
    with tempfile.TemporaryDirectory() as tmp:
        images = [degrade(render(pdf, n, how.dpi, Path(tmp)), how, i) for i, n in enumerate(pages)]
        target.parent.mkdir(parents=True, exist_ok=True)
        images[0].save(target, format="PDF", save_all=True, append_images=images[1:], resolution=float(how.dpi))
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pdf", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--pages", help="e.g. 6-9,21 (default: all)")
    defaults = Degradation()
    parser.add_argument("--dpi", type=int, default=defaults.dpi)
    parser.add_argument("--skew", type=float, default=defaults.skew, help="degrees")
    parser.add_argument("--blur", type=float, default=defaults.blur, help="Gaussian radius, pixels")
    parser.add_argument("--noise", type=float, default=defaults.noise, help="grey-level standard deviation")
    parser.add_argument("--jpeg", type=int, default=defaults.jpeg, help="JPEG quality (0: lossless)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    how = Degradation(args.dpi, args.skew, args.blur, args.noise, args.jpeg, args.seed)
    target = make_scan(args.pdf, args.target, how, parse_pages(args.pages))
    print(f"wrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
