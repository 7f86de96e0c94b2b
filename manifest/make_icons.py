"""Draws the Teams app icons: `color.png` (192×192) and `outline.png` (32×32).

Run from the repository root after changing the design: `python -m manifest.make_icons`
(needs Pillow, a development dependency). The PNGs are committed; the package builder
only copies them.

The glyph is a paper plane. Shapes are drawn at 8× and reduced, so edges are smooth.
The outline icon is pure white with varying alpha on a transparent background, as
Teams requires; the color icon is the same plane on a solid square of the accent color.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
ACCENT = (37, 99, 235)  # "#2563EB", also the manifest's accentColor
SHADE = (191, 212, 255)  # the lower wing, a light tint of the accent
FOLD = (147, 180, 250)  # the tail fold, a little darker
SCALE = 8

Point = tuple[float, float]

# The plane in unit coordinates (0..1, y downwards): the nose points up and right.
NOSE: Point = (0.84, 0.18)
WING: Point = (0.14, 0.47)
CREASE: Point = (0.41, 0.57)
BELLY: Point = (0.56, 0.86)
TAIL: Point = (0.41, 0.75)
UPPER_WING = (NOSE, WING, CREASE)
LOWER_WING = (NOSE, CREASE, BELLY)
TAIL_FOLD = (CREASE, TAIL, (0.50, 0.68))


def _scaled(points: tuple[Point, ...], size: int, inset: float = 0.0) -> list[Point]:
    """Unit points to pixels, optionally shrunk towards the centre by `inset` (0..1)."""
    span = size * (1 - 2 * inset)
    return [(size * inset + x * span, size * inset + y * span) for x, y in points]


def color_icon(size: int = 192) -> Image.Image:
    big = size * SCALE
    # A solid square: Teams rounds the corners itself where it wants them rounded.
    image = Image.new("RGB", (big, big), ACCENT)
    draw = ImageDraw.Draw(image)
    inset = 0.08
    draw.polygon(_scaled(LOWER_WING, big, inset), fill=SHADE)
    draw.polygon(_scaled(TAIL_FOLD, big, inset), fill=FOLD)
    draw.polygon(_scaled(UPPER_WING, big, inset), fill=(255, 255, 255))
    return image.resize((size, size), Image.Resampling.LANCZOS)


def outline_icon(size: int = 32) -> Image.Image:
    """White on transparent: the coverage is drawn as a mask, and the colour is always white."""
    big = size * SCALE
    mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(mask)
    inset = 0.02
    for shape in (UPPER_WING, LOWER_WING, TAIL_FOLD):
        draw.polygon(_scaled(shape, big, inset), fill=255)
    # A transparent crease between the wings keeps the plane readable at 32 pixels.
    crease = _scaled((NOSE, CREASE, TAIL), big, inset)
    draw.line(crease[:2], fill=0, width=round(1.6 * SCALE))
    draw.line(crease[1:], fill=0, width=round(1.2 * SCALE))
    alpha = mask.resize((size, size), Image.Resampling.LANCZOS)
    icon = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    icon.putalpha(alpha)
    # Fully transparent pixels carry no colour at all.
    pixels = [(255, 255, 255, a) if a else (0, 0, 0, 0) for a in alpha.get_flattened_data()]
    icon.putdata(pixels)
    return icon


def main() -> None:
    color_icon().save(HERE / "color.png", optimize=True)
    outline_icon().save(HERE / "outline.png", optimize=True)
    print(f"wrote {HERE / 'color.png'} and {HERE / 'outline.png'}")


if __name__ == "__main__":
    main()
