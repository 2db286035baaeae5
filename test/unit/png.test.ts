import { expect } from "chai";
import { deflateSync } from "node:zlib";
import { countColour, decodePng, parseHex } from "../helpers/png.js";

// The CRC field is not checked by the reader, so the encoder leaves it zero.
function chunk(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, "latin1");
  return Buffer.concat([head, body, Buffer.alloc(4)]);
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Encodes pixels with the given filter type per row (cycled), as an encoder is free to choose them. */
function encodePng(
  width: number,
  height: number,
  channels: 3 | 4,
  pixels: Uint8Array,
  filters: number[],
  opts: { depth?: number; interlace?: number } = {},
): Buffer {
  const stride = width * channels;
  const raw = Buffer.alloc(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const f = filters[y % filters.length]!;
    raw[y * (stride + 1)] = f;
    for (let x = 0; x < stride; x++) {
      const v = pixels[y * stride + x]!;
      const a = x >= channels ? pixels[y * stride + x - channels]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels]! : 0;
      const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][f]!;
      raw[y * (stride + 1) + 1 + x] = (v - pred) & 0xff;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = opts.depth ?? 8;
  ihdr[9] = channels === 4 ? 6 : 2;
  ihdr[12] = opts.interlace ?? 0;
  const data = deflateSync(raw);
  // Split IDAT in two: the reader must join them.
  const half = data.length >> 1;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", data.subarray(0, half)),
    chunk("IDAT", data.subarray(half)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** Pseudo-random pixels (fixed seed) so every filter predicts from varied neighbours. */
function noise(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    out[i] = s >> 16;
  }
  return out;
}

describe("PNG reader (screenshot checks)", () => {
  for (const channels of [3, 4] as const) {
    for (const filter of [0, 1, 2, 3, 4]) {
      it(`decodes ${channels === 3 ? "RGB" : "RGBA"} rows written with filter type ${filter}`, () => {
        const pixels = noise(7 * 5 * channels);
        const img = decodePng(encodePng(7, 5, channels, pixels, [filter]));
        expect(img).to.include({ width: 7, height: 5, channels });
        expect(Buffer.from(img.data).equals(Buffer.from(pixels))).to.equal(true);
      });
    }
  }

  it("decodes an image whose rows mix all five filter types", () => {
    const pixels = noise(16 * 10 * 4);
    const img = decodePng(encodePng(16, 10, 4, pixels, [4, 3, 2, 1, 0]));
    expect(Buffer.from(img.data).equals(Buffer.from(pixels))).to.equal(true);
  });

  it("counts pixels of a colour, within a tolerance", () => {
    const [r, g, b] = parseHex("#2e7d32");
    // 3 exact, 1 off by 2 in green, 2 white.
    const px = [r, g, b, r, g, b, r, g, b, r, g + 2, b, 255, 255, 255, 255, 255, 255];
    const img = decodePng(encodePng(3, 2, 3, Uint8Array.from(px), [1, 4]));
    expect(countColour(img, "#2e7d32")).to.equal(3);
    expect(countColour(img, "#2E7D32", 2)).to.equal(4);
    expect(countColour(img, "#ffffff")).to.equal(2);
    expect(countColour(img, "#c62828", 10)).to.equal(0);
  });

  it("rejects what it cannot read, naming it", () => {
    expect(() => decodePng(Buffer.from("GIF89a........"))).to.throw(/signature/);
    const px = new Uint8Array(2 * 2 * 3);
    expect(() => decodePng(encodePng(2, 2, 3, px, [0], { depth: 16 }))).to.throw(/bit depth 16.*only 8/);
    expect(() => decodePng(encodePng(2, 2, 3, px, [0], { interlace: 1 }))).to.throw(/interlaced/);
    const bad = encodePng(2, 2, 3, px, [0]);
    // Filter byte of row 0 sits first in the inflated data: re-encode with an invalid one.
    const raw = Buffer.alloc(2 * 7);
    raw[0] = 9;
    const ihdr = bad.subarray(8, 8 + 25);
    const broken = Buffer.concat([
      bad.subarray(0, 8),
      ihdr,
      chunk("IDAT", deflateSync(raw)),
      chunk("IEND", Buffer.alloc(0)),
    ]);
    expect(() => decodePng(broken)).to.throw(/filter type 9 \(allowed: 0–4\)/);
    expect(() => countColour(decodePng(bad), "green")).to.throw(/not #rrggbb/);
  });
});
