import type { PNG as PNGClass } from 'pngjs';
import { FileFormatError } from '@difflab/core';
import { Raster } from './raster.js';

/**
 * PNG encoding with pngjs (Node only). pngjs needs Node's zlib and streams, so it is loaded on
 * first use through `process.getBuiltinModule('module').createRequire` rather than imported:
 * importing @difflab/viz in a browser bundle therefore pulls in no Node code, and only calling
 * these two functions there fails (use `toImageData` and a canvas instead).
 */
let pngModule: { PNG: typeof PNGClass } | undefined;

function loadPngjs(): { PNG: typeof PNGClass } {
  if (pngModule) return pngModule;
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule !== 'function') {
    throw new Error('encodePng/decodePng need Node >= 20.16 (pngjs); in the browser draw the raster with toImageData() on a canvas');
  }
  const { createRequire } = proc.getBuiltinModule('module') as typeof import('node:module');
  pngModule = createRequire(import.meta.url)('pngjs') as { PNG: typeof PNGClass };
  return pngModule;
}

/** Encode a raster as an 8-bit RGBA PNG (Node only). */
export function encodePng(raster: Raster): Uint8Array {
  const { PNG } = loadPngjs();
  const png = new PNG({ width: raster.width, height: raster.height });
  png.data = Buffer.from(raster.data.buffer, raster.data.byteOffset, raster.data.byteLength);
  const buf = PNG.sync.write(png);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Decode PNG bytes into a raster (Node only). `name` is used in error messages. */
export function decodePng(bytes: Uint8Array, name = 'PNG'): Raster {
  const { PNG } = loadPngjs();
  let png: PNGClass;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    throw new FileFormatError(name, `not a readable PNG (${(e as Error).message})`);
  }
  return Raster.fromRGBA(png.width, png.height, new Uint8ClampedArray(png.data));
}
