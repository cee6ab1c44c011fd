"""The pictures the simulated platforms serve: small, valid JPEG photos, one per name.

The demo's records show real images (a browser, WeasyPrint and ``file`` all read them), and a
name always gives the same bytes, so a re-fetch is recognised as unchanged.
"""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache


@lru_cache(maxsize=256)
def jpeg(name: str, size: tuple[int, int] = (320, 200)) -> bytes:
    from PIL import Image, ImageDraw

    seed = hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest()
    width, height = size
    image = Image.new("RGB", size, tuple(seed[:3]))
    draw = ImageDraw.Draw(image)
    # A sky, a ground and a sun, coloured by the name: pictures that differ at a glance.
    draw.rectangle((0, height * 2 // 3, width, height), fill=tuple(seed[3:6]))
    r = 20 + seed[6] % 30
    cx, cy = 40 + seed[7] % (width - 80), 30 + seed[8] % (height // 3)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=tuple(seed[9:12]))
    draw.text((8, height - 18), name[:40], fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()
