"""Page images of a production in the form a review platform takes (domain.md §C2, §C5).

Relativity loads Opticon image files of single-page Group IV TIFF, single-page JPG, or PDF;
the FTC and DOJ production guides ask for 300 DPI single-page Group IV TIFF, with colour pages
as JPEG. Each document is first laid out and Bates-stamped as a PDF (``imaging``, ``stamp``);
for the image formats every page of it is rasterised with PDFium (pypdfium2) and written with
Pillow as one file per page, named by that page's Bates number.

    pdf         one PDF per document (the pages carry their Bates numbers as text)
    tiff        single-page TIFF, 1-bit black and white, CCITT Group 4, 300 DPI
    tiff-color  single-page TIFF, 24-bit colour, LZW, 300 DPI
    jpg         single-page JPEG, colour, 300 DPI

Text is rasterised without anti-aliasing for the black-and-white form, so letters become
solid black rather than grey dithered edges; photographs are dithered (Floyd-Steinberg).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from ..errors import ExportError, ExportValueError

DPI = 300
# PDF points to pixels. PDFium rounds the bitmap size up, and 792 * (300 / 72) is 3300.0000000000005
# in floating point: a hair under the exact ratio keeps a letter page at 2550 x 3300 pixels.
SCALE = DPI / 72 - 1e-12


@dataclass(frozen=True)
class ImageFormat:
    name: str
    extension: str  # of each page image file
    per_page: bool  # one file per page (else one PDF per document)
    pillow: dict  # Image.save arguments
    description: str  # for the volume's README
    mode: str = "RGB"  # Pillow mode the page is converted to
    smooth_text: bool = True


FORMATS = {f.name: f for f in [
    ImageFormat("pdf", "pdf", False, {}, "PDF, one file per document (text extractable)"),
    ImageFormat("tiff", "tif", True, {"format": "TIFF", "compression": "group4"},
                "single-page TIFF, black and white, CCITT Group 4, 300 DPI", mode="1", smooth_text=False),
    ImageFormat("tiff-color", "tif", True, {"format": "TIFF", "compression": "tiff_lzw"},
                "single-page TIFF, 24-bit colour, LZW, 300 DPI"),
    ImageFormat("jpg", "jpg", True, {"format": "JPEG", "quality": 85, "subsampling": 0},
                "single-page JPEG, colour, 300 DPI"),
]}


def image_format(name: str) -> ImageFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise ExportValueError(f"--images must be one of {', '.join(FORMATS)}, not {name!r}") from None


def rasterise(pdf: bytes, fmt: ImageFormat) -> list[bytes]:
    """One image file per page of ``pdf``, in page order."""
    import pypdfium2
    from PIL import Image

    try:
        document = pypdfium2.PdfDocument(pdf)
    except pypdfium2.PdfiumError as exc:
        raise ExportError(f"cannot rasterise a page image ({exc})") from None
    pages = []
    try:
        for index in range(len(document)):
            page = document[index]
            bitmap = page.render(scale=SCALE, no_smoothtext=not fmt.smooth_text,
                                 no_smoothpath=not fmt.smooth_text)
            image = bitmap.to_pil().convert("RGB")
            if fmt.mode == "1":
                image = image.convert("1", dither=Image.Dither.FLOYDSTEINBERG)
            out = io.BytesIO()
            image.save(out, dpi=(DPI, DPI), **fmt.pillow)
            pages.append(out.getvalue())
            bitmap.close()
            page.close()
    finally:
        document.close()
    return pages
