/**
 * Drawing of the `faces` set: a cartoon face as a stack of shapes given by signed distance
 * functions (SDFs, in pixels; negative inside), composited front to back over a background.
 *
 * Anti-aliasing is analytic: a pixel covered by a shape's edge gets the coverage
 * clamp(0.5 - d, 0, 1), d the signed distance from the pixel centre, which is the area of the
 * pixel on the inside of a straight edge at the distances that matter (|d| < 0.5 for an axis-
 * aligned edge), so edges fade over one pixel as a box filter would (Green 2007, "Improved
 * alpha-tested magnification", and Quilez's 2-D distance functions for the primitives). The
 * optional `supersample` mode instead averages s x s point samples per pixel with hard
 * coverage: the reference the tests compare the analytic coverage with.
 */
import type { Rng } from '@difflab/core';

export const FACE_EXPRESSIONS = ['happy', 'sad', 'surprised', 'angry', 'neutral'] as const;
export const FACE_COLORS = ['yellow', 'pink', 'green', 'blue'] as const;
export const FACE_EYES = ['open', 'closed'] as const;
export const FACE_ACCESSORIES = ['none', 'glasses', 'hat'] as const;

export type FaceExpression = (typeof FACE_EXPRESSIONS)[number];
export type FaceColor = (typeof FACE_COLORS)[number];
export type FaceEyes = (typeof FACE_EYES)[number];
export type FaceAccessory = (typeof FACE_ACCESSORIES)[number];

/** What a face shows: the attributes its label and captions name. */
export interface FaceAttributes {
  expression: FaceExpression;
  color: FaceColor;
  eyes: FaceEyes;
  accessory: FaceAccessory;
}

/** Where the parts of one face sit (pixels, y down, pixel centres at +0.5): the random jitter. */
export interface FaceLayout {
  /** Centre and radius of the head. */
  cx: number;
  cy: number;
  r: number;
  /** Half the distance between the eye centres, and their height. */
  eyeDx: number;
  eyeY: number;
  /** Size of an eye (an open eye's white is an ellipse of half-width eyeR, half-height 1.25 eyeR). */
  eyeR: number;
  /** Mouth centre height and half-width. */
  mouthY: number;
  mouthW: number;
  /** Brightness factor of the face colour. */
  shade: number;
}

/** Image side in pixels. */
export const FACE_SIDE = 32;

type Rgb = readonly [number, number, number];

/** Face colours (sRGB in [0, 1]). */
export const FACE_RGB: Record<FaceColor, Rgb> = {
  yellow: [1.0, 0.84, 0.18],
  pink: [1.0, 0.62, 0.74],
  green: [0.45, 0.8, 0.35],
  blue: [0.38, 0.62, 1.0],
};
export const BACKGROUND_RGB: Rgb = [0.93, 0.93, 0.9];
const OUTLINE: Rgb = [0.22, 0.16, 0.12];
const INK: Rgb = [0.14, 0.1, 0.08];
const WHITE: Rgb = [1, 1, 1];
const MOUTH_INSIDE: Rgb = [0.45, 0.07, 0.1];
const FRAME: Rgb = [0.07, 0.07, 0.09];
const LENS: Rgb = [0.1, 0.1, 0.16];
const HAT: Rgb = [0.18, 0.18, 0.22];
const HAT_BAND: Rgb = [0.8, 0.15, 0.15];

/** Signed distance (pixels) from a point to a shape; negative inside. */
type Sdf = (x: number, y: number) => number;

interface Layer {
  sdf: Sdf;
  color: Rgb;
  /** Opacity of the shape (lenses are translucent). */
  alpha: number;
  /** Bounding box [x0, y0, x1, y1] of the shape; pixels more than a pixel outside skip it. */
  box: readonly [number, number, number, number];
}

const clamp01 = (v: number) => Math.min(Math.max(v, 0), 1);

function disk(cx: number, cy: number, r: number, color: Rgb, alpha = 1): Layer {
  return { sdf: (x, y) => Math.hypot(x - cx, y - cy) - r, color, alpha, box: [cx - r, cy - r, cx + r, cy + r] };
}

/** Ellipse, with Quilez's first-order distance estimate k0 (k0 - 1) / k1 (exact on the axes). */
function ellipse(cx: number, cy: number, rx: number, ry: number, color: Rgb): Layer {
  const sdf: Sdf = (x, y) => {
    const px = x - cx;
    const py = y - cy;
    const k0 = Math.hypot(px / rx, py / ry);
    if (k0 === 0) return -Math.min(rx, ry);
    const k1 = Math.hypot(px / (rx * rx), py / (ry * ry));
    return (k0 * (k0 - 1)) / k1;
  };
  return { sdf, color, alpha: 1, box: [cx - rx, cy - ry, cx + rx, cy + ry] };
}

/** A stroke of half-width w along the segment a-b (a capsule). */
function segment(ax: number, ay: number, bx: number, by: number, w: number, color: Rgb): Layer {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const sdf: Sdf = (x, y) => {
    const px = x - ax;
    const py = y - ay;
    const h = len2 > 0 ? clamp01((px * dx + py * dy) / len2) : 0;
    return Math.hypot(px - dx * h, py - dy * h) - w;
  };
  return { sdf, color, alpha: 1, box: [Math.min(ax, bx) - w, Math.min(ay, by) - w, Math.max(ax, bx) + w, Math.max(ay, by) + w] };
}

/**
 * A stroke of half-width w along the arc of the circle (cx, cy, R) from angle a0 to a1
 * (radians, a0 < a1, measured with y down: angles in (0, pi) are below the centre).
 */
function arc(cx: number, cy: number, R: number, a0: number, a1: number, w: number, color: Rgb): Layer {
  const e0x = cx + R * Math.cos(a0);
  const e0y = cy + R * Math.sin(a0);
  const e1x = cx + R * Math.cos(a1);
  const e1y = cy + R * Math.sin(a1);
  const sdf: Sdf = (x, y) => {
    const px = x - cx;
    const py = y - cy;
    let a = Math.atan2(py, px);
    while (a < a0) a += 2 * Math.PI;
    while (a >= a0 + 2 * Math.PI) a -= 2 * Math.PI;
    if (a <= a1) return Math.abs(Math.hypot(px, py) - R) - w;
    return Math.min(Math.hypot(x - e0x, y - e0y), Math.hypot(x - e1x, y - e1y)) - w;
  };
  return { sdf, color, alpha: 1, box: [cx - R - w, cy - R - w, cx + R + w, cy + R + w] };
}

/** A ring (circle outline) of half-width w. */
function ring(cx: number, cy: number, R: number, w: number, color: Rgb): Layer {
  return { sdf: (x, y) => Math.abs(Math.hypot(x - cx, y - cy) - R) - w, color, alpha: 1, box: [cx - R - w, cy - R - w, cx + R + w, cy + R + w] };
}

/** Axis-aligned box of half-sizes (hx, hy) with corners rounded by rad. */
function roundedBox(cx: number, cy: number, hx: number, hy: number, rad: number, color: Rgb): Layer {
  const sdf: Sdf = (x, y) => {
    const qx = Math.abs(x - cx) - hx + rad;
    const qy = Math.abs(y - cy) - hy + rad;
    return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - rad;
  };
  return { sdf, color, alpha: 1, box: [cx - hx, cy - hy, cx + hx, cy + hy] };
}

/** Draw a layout's jitter from `rng` (always the same number of draws, in this order). */
export function drawFaceLayout(rng: Rng): FaceLayout {
  const cx = FACE_SIDE / 2 + rng.uniformRange(-1.5, 1.5);
  const cy = FACE_SIDE / 2 + 1 + rng.uniformRange(-1.2, 1.2);
  const r = rng.uniformRange(10, 11.5);
  const eyeDx = r * rng.uniformRange(0.33, 0.4);
  const eyeY = cy - r * rng.uniformRange(0.14, 0.24);
  const eyeR = r * rng.uniformRange(0.15, 0.18);
  const mouthY = cy + r * rng.uniformRange(0.38, 0.48);
  const mouthW = r * rng.uniformRange(0.32, 0.42);
  const shade = rng.uniformRange(0.94, 1.04);
  return { cx, cy, r, eyeDx, eyeY, eyeR, mouthY, mouthW, shade };
}

/** The face without jitter: centred, mid-sized features. */
export const CENTRED_FACE_LAYOUT: FaceLayout = {
  cx: 16,
  cy: 17,
  r: 10.75,
  eyeDx: 10.75 * 0.365,
  eyeY: 17 - 10.75 * 0.19,
  eyeR: 10.75 * 0.165,
  mouthY: 17 + 10.75 * 0.43,
  mouthW: 10.75 * 0.37,
  shade: 1,
};

/** Height of the eyebrows' middle: a pixel above the top of the open eyes' rim. */
export function faceBrowY(L: FaceLayout): number {
  return L.eyeY - 1.25 * L.eyeR - 1.4;
}

/** The shapes of a face, back to front. */
function faceLayers(a: FaceAttributes, L: FaceLayout): Layer[] {
  const { cx, cy, r, eyeDx, eyeY, eyeR, mouthY, mouthW } = L;
  const base = FACE_RGB[a.color];
  const skin: Rgb = [clamp01(base[0] * L.shade), clamp01(base[1] * L.shade), clamp01(base[2] * L.shade)];
  const layers: Layer[] = [disk(cx, cy, r, OUTLINE), disk(cx, cy, r - 0.9, skin)];
  const eyes = [cx - eyeDx, cx + eyeDx];

  // eyes: open = white sclera with a dark rim and pupil; closed = a lower arc (a shut lid)
  for (const ex of eyes) {
    if (a.eyes === 'open') {
      layers.push(ellipse(ex, eyeY, eyeR + 0.4, 1.25 * eyeR + 0.4, INK));
      layers.push(ellipse(ex, eyeY, eyeR, 1.25 * eyeR, WHITE));
      layers.push(disk(ex, eyeY + 0.25 * eyeR, 0.42 * eyeR, INK));
    } else {
      layers.push(arc(ex, eyeY - 0.55 * eyeR, 1.1 * eyeR, 0.15 * Math.PI, 0.85 * Math.PI, 0.5, INK));
    }
  }

  // eyebrows carry angry / sad / surprised
  const browY = faceBrowY(L);
  const bw = 1.1 * eyeR;
  eyes.forEach((ex, side) => {
    const inward = side === 0 ? 1 : -1; // +x towards the nose for the left eye
    if (a.expression === 'angry') {
      layers.push(segment(ex - inward * bw, browY - 0.7, ex + inward * bw, browY + 1.1, 0.55, INK));
    } else if (a.expression === 'sad') {
      layers.push(segment(ex - inward * bw, browY + 0.8, ex + inward * bw, browY - 0.6, 0.5, INK));
    } else if (a.expression === 'surprised') {
      layers.push(arc(ex, browY + 0.9 * eyeR, 1.2 * eyeR, 1.2 * Math.PI, 1.8 * Math.PI, 0.5, INK));
    }
  });

  // mouth
  switch (a.expression) {
    case 'happy':
      layers.push(arc(cx, mouthY - 0.75 * mouthW, mouthW, 0.2 * Math.PI, 0.8 * Math.PI, 0.75, INK));
      break;
    case 'sad':
      layers.push(arc(cx, mouthY + 0.95 * mouthW, mouthW, 1.22 * Math.PI, 1.78 * Math.PI, 0.7, INK));
      break;
    case 'surprised':
      layers.push(ellipse(cx, mouthY, 0.38 * mouthW + 0.6, 0.5 * mouthW + 0.6, INK));
      layers.push(ellipse(cx, mouthY, 0.38 * mouthW, 0.5 * mouthW, MOUTH_INSIDE));
      break;
    case 'angry':
      layers.push(segment(cx - 0.6 * mouthW, mouthY + 0.15 * mouthW, cx + 0.6 * mouthW, mouthY + 0.15 * mouthW, 0.75, INK));
      break;
    case 'neutral':
      layers.push(segment(cx - 0.8 * mouthW, mouthY, cx + 0.8 * mouthW, mouthY, 0.55, INK));
      break;
  }

  if (a.accessory === 'glasses') {
    const gR = 1.4 * eyeR + 0.6;
    for (const ex of eyes) {
      layers.push({ ...disk(ex, eyeY, gR, LENS), alpha: 0.35 });
      layers.push(ring(ex, eyeY, gR, 0.45, FRAME));
    }
    layers.push(segment(eyes[0] + gR, eyeY, eyes[1] - gR, eyeY, 0.45, FRAME));
    const edge = Math.sqrt(Math.max(r * r - (eyeY - 0.6 - cy) ** 2, 0)) * 0.97;
    layers.push(segment(eyes[0] - gR, eyeY, cx - edge, eyeY - 0.6, 0.4, FRAME));
    layers.push(segment(eyes[1] + gR, eyeY, cx + edge, eyeY - 0.6, 0.4, FRAME));
  } else if (a.accessory === 'hat') {
    const brimY = cy - 0.78 * r;
    const top = Math.max(0.8, brimY - 0.55 * r);
    const crownH = (brimY - top) / 2;
    layers.push(roundedBox(cx, top + crownH, 0.5 * r, crownH, 0.6, HAT));
    layers.push(roundedBox(cx, brimY - 1.3, 0.5 * r, 0.7, 0, HAT_BAND));
    layers.push(roundedBox(cx, brimY, 0.85 * r, 0.85, 0.8, HAT));
  }
  return layers;
}

export interface RenderFaceOptions {
  /**
   * 0 (default): analytic coverage from the signed distance. s > 0: average s x s point samples
   * per pixel with hard (inside / outside) coverage; s = 1 is the aliased picture.
   */
  supersample?: number;
}

/** Composite the layers at one point; aa: coverage from the distance (true) or hard (false). */
function shadeAt(layers: readonly Layer[], x: number, y: number, aa: boolean, out: Float64Array): void {
  let r = BACKGROUND_RGB[0];
  let g = BACKGROUND_RGB[1];
  let b = BACKGROUND_RGB[2];
  for (const l of layers) {
    const [x0, y0, x1, y1] = l.box;
    if (x < x0 - 1 || x > x1 + 1 || y < y0 - 1 || y > y1 + 1) continue;
    const d = l.sdf(x, y);
    const cov = (aa ? clamp01(0.5 - d) : d < 0 ? 1 : 0) * l.alpha;
    if (cov === 0) continue;
    r += (l.color[0] - r) * cov;
    g += (l.color[1] - g) * cov;
    b += (l.color[2] - b) * cov;
  }
  out[0] = r;
  out[1] = g;
  out[2] = b;
}

/**
 * Render a face as FACE_SIDE x FACE_SIDE RGB, row-major [H, W, 3], values in [0, 1].
 */
export function renderFace(attributes: FaceAttributes, layout: FaceLayout = CENTRED_FACE_LAYOUT, opts: RenderFaceOptions = {}): Float32Array {
  const s = opts.supersample ?? 0;
  if (!(Number.isInteger(s) && s >= 0)) throw new RangeError(`renderFace: supersample must be an integer >= 0, got ${s}`);
  const layers = faceLayers(attributes, layout);
  const side = FACE_SIDE;
  const out = new Float32Array(side * side * 3);
  const rgb = new Float64Array(3);
  for (let py = 0; py < side; py++) {
    for (let px = 0; px < side; px++) {
      const o = (py * side + px) * 3;
      if (s === 0) {
        shadeAt(layers, px + 0.5, py + 0.5, true, rgb);
        out[o] = rgb[0];
        out[o + 1] = rgb[1];
        out[o + 2] = rgb[2];
      } else {
        let r = 0;
        let g = 0;
        let b = 0;
        for (let j = 0; j < s; j++) {
          for (let i = 0; i < s; i++) {
            shadeAt(layers, px + (i + 0.5) / s, py + (j + 0.5) / s, false, rgb);
            r += rgb[0];
            g += rgb[1];
            b += rgb[2];
          }
        }
        out[o] = r / (s * s);
        out[o + 1] = g / (s * s);
        out[o + 2] = b / (s * s);
      }
    }
  }
  return out;
}
