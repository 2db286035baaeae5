// A PNG reader for screenshot checks: 8-bit RGB and RGBA, not interlaced (what Chromium writes), with node:zlib.
import { inflateSync } from "node:zlib";

/** A decoded image: `channels` bytes per pixel (3 RGB, 4 RGBA), rows top to bottom. */
export interface Image {
  width: number;
  height: number;
  channels: 3 | 4;
  data: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Decodes a PNG; throws naming what is unsupported (bit depth, colour type, interlacing) or broken. */
export function decodePng(png: Uint8Array): Image {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (buf.length < 8 || !buf.subarray(0, 8).equals(SIGNATURE)) throw new Error("not a PNG: the signature is wrong");
  let width = 0;
  let height = 0;
  let channels: 3 | 4 = 3;
  const idat: Buffer[] = [];
  let at = 8;
  let sawEnd = false;
  while (at + 8 <= buf.length && !sawEnd) {
    const len = buf.readUInt32BE(at);
    const type = buf.toString("latin1", at + 4, at + 8);
    if (at + 12 + len > buf.length) throw new Error(`PNG chunk ${type} runs past the end of the file`);
    const body = buf.subarray(at + 8, at + 8 + len);
    if (type === "IHDR") {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [depth, colour, , , interlace] = body.subarray(8, 13);
      if (depth !== 8) throw new Error(`PNG bit depth ${depth} is not supported (only 8)`);
      if (colour !== 2 && colour !== 6) {
        throw new Error(`PNG colour type ${colour} is not supported (only 2 = RGB and 6 = RGBA)`);
      }
      if (interlace !== 0) throw new Error("interlaced PNGs are not supported");
      channels = colour === 6 ? 4 : 3;
    } else if (type === "IDAT") {
      idat.push(body);
    } else if (type === "IEND") {
      sawEnd = true;
    }
    at += 12 + len;
  }
  if (width === 0 || height === 0) throw new Error("PNG has no IHDR chunk (or a zero size)");
  if (idat.length === 0) throw new Error("PNG has no IDAT chunk");
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length < height * (stride + 1)) {
    throw new Error(`PNG data is short: ${raw.length} bytes for ${height} rows of ${stride + 1}`);
  }
  return { width, height, channels, data: unfilter(raw, height, stride, channels) };
}

// Each row starts with its filter type; the filters predict a byte from its left (a), upper (b) and upper-left (c)
// neighbours in the already-decoded image (PNG spec, section 9).
function unfilter(raw: Uint8Array, height: number, stride: number, bpp: number): Uint8Array {
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const prev = row - stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? out[row + x - bpp]! : 0;
      const b = y > 0 ? out[prev + x]! : 0;
      const c = x >= bpp && y > 0 ? out[prev + x - bpp]! : 0;
      let p: number;
      switch (filter) {
        case 0:
          p = 0;
          break;
        case 1:
          p = a;
          break;
        case 2:
          p = b;
          break;
        case 3:
          p = (a + b) >> 1;
          break;
        case 4:
          p = paeth(a, b, c);
          break;
        default:
          throw new Error(`PNG row ${y} has filter type ${filter} (allowed: 0–4)`);
      }
      out[row + x] = (raw[src + x]! + p) & 0xff;
    }
  }
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

/** `#rrggbb` as [r, g, b]. */
export function parseHex(colour: string): [number, number, number] {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(colour);
  if (!m) throw new Error(`colour ${JSON.stringify(colour)} is not #rrggbb`);
  return [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)];
}

/** Pixels whose red, green and blue each lie within `tolerance` of `colour` (`#rrggbb`); alpha is ignored. */
export function countColour(img: Image, colour: string, tolerance = 0): number {
  const [r, g, b] = parseHex(colour);
  let n = 0;
  for (let i = 0; i < img.data.length; i += img.channels) {
    if (
      Math.abs(img.data[i]! - r) <= tolerance &&
      Math.abs(img.data[i + 1]! - g) <= tolerance &&
      Math.abs(img.data[i + 2]! - b) <= tolerance
    ) {
      n++;
    }
  }
  return n;
}
