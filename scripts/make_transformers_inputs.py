"""Make the input files of tasks/transformers/inputs/ ourselves, from code. Run from the repository
root:  python scripts/make_transformers_inputs.py

- cat.png: a cat drawn here, shape by shape (pure Python, written as a PNG with zlib).
- sample.wav: a sentence of ours spoken by the espeak-ng synthesizer (`apt-get install espeak-ng`),
  16 kHz mono, the rate speech models expect.
"""

from __future__ import annotations

import math
import struct
import subprocess
import zlib
from pathlib import Path

OUT = Path("tasks/transformers/inputs")
SIZE = 224  # what image classifiers are trained on
SPEECH = "I really enjoyed this sunny day at the beach with my friends."

FUR, DARK, EYE, PUPIL, NOSE, SKY, GRASS = (214, 140, 62), (150, 90, 35), (120, 190, 60), (20, 20, 20), (230, 130, 150), (190, 220, 245), (110, 170, 90)


def ellipse(x, y, cx, cy, rx, ry):
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1


def triangle(x, y, a, b, c):
    def side(p, q):
        return (x - q[0]) * (p[1] - q[1]) - (p[0] - q[0]) * (y - q[1])
    d1, d2, d3 = side(a, b), side(b, c), side(c, a)
    return not ((d1 < 0 or d2 < 0 or d3 < 0) and (d1 > 0 or d2 > 0 or d3 > 0))


def near_line(x, y, a, b, width=1.2):
    (x1, y1), (x2, y2) = a, b
    length = math.hypot(x2 - x1, y2 - y1)
    t = max(0, min(1, ((x - x1) * (x2 - x1) + (y - y1) * (y2 - y1)) / length**2))
    return math.hypot(x - (x1 + t * (x2 - x1)), y - (y1 + t * (y2 - y1))) <= width


def pixel(x: int, y: int) -> tuple[int, int, int]:
    for eye_x in (88, 136):
        if ellipse(x, y, eye_x, 92, 4, 9):
            return PUPIL
        if ellipse(x, y, eye_x, 92, 11, 12):
            return EYE
    if triangle(x, y, (104, 112), (120, 112), (112, 122)):
        return NOSE
    whiskers = [((70, 120), (30, 112)), ((70, 126), (30, 130)), ((154, 120), (194, 112)), ((154, 126), (194, 130))]
    if any(near_line(x, y, a, b) for a, b in whiskers) or near_line(x, y, (112, 122), (112, 132)):
        return DARK
    stripe = (x // 9) % 3 == 0
    if ellipse(x, y, 112, 100, 56, 48) or triangle(x, y, (62, 80), (70, 22), (102, 60)) or triangle(x, y, (162, 80), (154, 22), (122, 60)):
        return DARK if stripe and y < 70 else FUR
    if ellipse(x, y, 112, 180, 62, 50) or near_line(x, y, (170, 200), (212, 140), 8):
        return DARK if stripe else FUR
    return SKY if y < 170 else GRASS


def png(width: int, height: int, rows: list[bytes]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\0" + row for row in rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rows = [bytes(c for x in range(SIZE) for c in pixel(x, y)) for y in range(SIZE)]
    (OUT / "cat.png").write_bytes(png(SIZE, SIZE, rows))
    wav = OUT / "sample.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav.with_suffix(".22k.wav")), SPEECH], check=True)
    # espeak-ng speaks at 22.05 kHz; resample to 16 kHz with the standard library only.
    import wave

    with wave.open(str(wav.with_suffix(".22k.wav"))) as src:
        rate, frames = src.getframerate(), src.readframes(src.getnframes())
    samples = struct.unpack(f"<{len(frames) // 2}h", frames)
    resampled = [samples[min(len(samples) - 1, int(i * rate / 16000))] for i in range(int(len(samples) * 16000 / rate))]
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(struct.pack(f"<{len(resampled)}h", *resampled))
    wav.with_suffix(".22k.wav").unlink()
    print(f"{OUT / 'cat.png'}, {wav} ({len(resampled) / 16000:.1f}s: {SPEECH!r})")


if __name__ == "__main__":
    main()
