#!/usr/bin/env python3
# Writes the 1024x1024 source of the app icon to the path given (default /tmp/kring.png).
# Regenerate icons/: python3 ui/scripts/kring-icon.py /tmp/kring.png && ui/node_modules/.bin/tauri icon /tmp/kring.png -o icons
# Kring app icon source: a calm teal rounded square with a white ring ("kring" = circle).
import math, struct, sys, zlib
N = 1024
M = 64            # margin
R = 200           # corner radius
TEAL = (0x0b, 0x6e, 0x6e)
WHITE = (255, 255, 255)
cx = cy = (N - 1) / 2
ring_r, ring_w = 290, 96
half = (N - 2 * M) / 2

def clamp(v): return 0.0 if v < 0 else 1.0 if v > 1 else v

rows = []
for y in range(N):
    row = bytearray([0])
    dy = abs(y - cy)
    for x in range(N):
        dx = abs(x - cx)
        # signed distance to the rounded square
        qx, qy = dx - (half - R), dy - (half - R)
        outside = math.hypot(max(qx, 0), max(qy, 0)) + min(max(qx, qy), 0) - R
        a_sq = clamp(0.5 - outside)
        if a_sq <= 0:
            row += b"\0\0\0\0"; continue
        d = abs(math.hypot(x - cx, y - cy) - ring_r) - ring_w / 2
        a_ring = clamp(0.5 - d)
        r = TEAL[0] + (WHITE[0] - TEAL[0]) * a_ring
        g = TEAL[1] + (WHITE[1] - TEAL[1]) * a_ring
        b = TEAL[2] + (WHITE[2] - TEAL[2]) * a_ring
        row += bytes((round(r), round(g), round(b), round(255 * a_sq)))
    rows.append(bytes(row))

def chunk(t, data):
    c = struct.pack(">I", len(data)) + t + data
    return c + struct.pack(">I", zlib.crc32(t + data) & 0xffffffff)

png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", N, N, 8, 6, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b"")
out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/kring.png"
open(out, "wb").write(png)
print(out, len(png), "bytes")
