/**
 * The person renderer: one walking pedestrian from an identity, a view and a pose.
 *
 * Body parts are convex polygons, ellipses and tapered capsules in "body units" (fractions of
 * the person's height), so the same person has the same proportions in every camera. Views:
 * front (face, logo, jacket opening, backpack straps), back (hair, backpack, hood), side
 * (profile, stride, backpack and bags sticking out). Walking is a phase in [0, 1): legs and arms
 * swing with detSin, the deterministic sine.
 */
import { clamp01, detSin, PI } from './detmath';
import type { Rgb } from './palette';
import { Raster, solid, type Paint } from './raster';
import type { Identity } from './identities';

export type View = 'front' | 'back' | 'side';

export interface Pose {
  view: View;
  /** For side views: +1 the person walks towards image right, -1 towards image left. */
  facing: 1 | -1;
  /** Walking phase in [0, 1). */
  phase: number;
  /** Horizontal centre of the body and top of the head, in pixels. */
  cx: number;
  top: number;
  /** Full person height in pixels (head to soles). */
  height: number;
  /** Multiplies every colour (e.g. 0.8 for a person standing in shade). */
  light: number;
}

function shade(c: Rgb, f: number): Rgb {
  return [clamp01(c[0] * f), clamp01(c[1] * f), clamp01(c[2] * f)];
}

function mixRgb(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] * (1 - t) + b[0] * t, a[1] * (1 - t) + b[1] * t, a[2] * (1 - t) + b[2] * t];
}

export function drawPerson(r: Raster, id: Identity, pose: Pose): void {
  const { body, outfit: o } = id;
  const Hp = pose.height;
  // Girth scales widths; 1.18 makes an average person fill a Market-like share of the box.
  const g = body.girth * 1.18;
  const L = pose.light;
  const view = pose.view;
  const s = pose.facing;
  const X = (u: number) => pose.cx + u * Hp;
  const Y = (v: number) => pose.top + v * Hp;
  const P = (u: number) => u * Hp;
  const sw = detSin(2 * PI * pose.phase) * body.stride;
  const bob = 0.006 * sw * sw;
  const Yb = (v: number) => Y(v + bob);

  const skin = shade(body.skin, L);
  const hair = shade(body.hairColor, L);
  const upper = shade(o.upperColor, L);
  const upperDark = shade(o.upperColor, L * 0.78);
  const accent = shade(o.accentColor, L);
  const lower = shade(o.lowerColor, L);
  const shoe = shade(o.shoeColor, L);
  const bagC = shade(o.bagColor, L);
  const hatC = shade(o.hatColor, L);

  const patterned = o.pattern !== 'plain';
  const upperPaint = (cx: number, hw: number, f = 1): Paint => ({
    color: f === 1 ? upper : shade(upper, f),
    accent: patterned ? (f === 1 ? accent : shade(accent, f)) : undefined,
    pattern: patterned ? (o.pattern as 'stripes' | 'checks') : undefined,
    period: P(o.patternPeriod),
    originX: pose.cx,
    originY: Yb(0.17),
    shadeCx: cx,
    shadeHalfWidth: hw,
    shadeAmount: 0.28,
  });
  const limbPaint = (c: Rgb, cx: number, hw: number, f = 1): Paint => ({
    color: f === 1 ? c : shade(c, f),
    shadeCx: cx,
    shadeHalfWidth: hw,
    shadeAmount: 0.2,
  });

  const hemY = o.upperType === 'coat' ? 0.68 : o.upperType === 'jacket' ? 0.53 : 0.5;
  const hemHW = (o.upperType === 'coat' ? 0.125 : 0.102) * g;
  const sleeveEnd = o.sleeves === 'long' ? 1 : o.sleeves === 'short' ? 0.45 : 0;

  // Ground shadow.
  r.fillEllipse(X(0), Y(0.985), P(0.15 * g), P(0.022), solid([0, 0, 0], 0.25));

  if (view === 'side') {
    drawSide();
  } else {
    drawFrontBack(view === 'front');
  }

  // ---- front and back views ----
  function drawFrontBack(front: boolean): void {
    // Image-x sign of the person's right side.
    const right = front ? -1 : 1;
    const lift = [0.022 * Math.max(0, sw), 0.022 * Math.max(0, -sw)];
    const legs = [-1, 1].map((side, k) => ({
      hip: [X(side * 0.05 * g), Yb(0.52)] as const,
      knee: [X(side * 0.053 * g), Yb(0.73 - lift[k] * 0.5)] as const,
      ankle: [X(side * 0.056 * g), Y(0.945 - lift[k])] as const,
    }));
    const arms = [-1, 1].map((side) => {
      const swing = 0.02 * Math.abs(sw);
      return {
        shoulder: [X(side * 0.107 * g), Yb(0.195)] as const,
        elbow: [X(side * 0.125 * g), Yb(0.335 - swing * 0.5)] as const,
        wrist: [X(side * 0.132 * g), Yb(0.465 - swing)] as const,
        side,
      };
    });

    // Long hair behind the shoulders (front view: seen beside the neck).
    if (front && body.hairStyle === 'long') r.fillRect(X(-0.058), Yb(0.06), X(0.058), Yb(0.24), solid(hair));

    // Legs and lower garment.
    for (const leg of legs) {
      const skinLegFrom = o.lowerType === 'trousers' ? null : o.lowerType === 'shorts' ? 0.6 : 0.35;
      const lc = o.lowerType === 'trousers' ? lower : skin;
      r.fillCapsule(leg.hip[0], leg.hip[1], leg.knee[0], leg.knee[1], P(0.045 * g), P(0.034 * g), limbPaint(lc, leg.hip[0], P(0.05 * g)));
      r.fillCapsule(leg.knee[0], leg.knee[1], leg.ankle[0], leg.ankle[1], P(0.034 * g), P(0.025 * g), limbPaint(lc, leg.knee[0], P(0.04 * g)));
      if (o.lowerType === 'shorts' && skinLegFrom !== null) {
        const ex = leg.hip[0] + (leg.knee[0] - leg.hip[0]) * 0.7;
        const ey = leg.hip[1] + (leg.knee[1] - leg.hip[1]) * 0.7;
        r.fillCapsule(leg.hip[0], leg.hip[1], ex, ey, P(0.05 * g), P(0.046 * g), limbPaint(lower, leg.hip[0], P(0.055 * g)));
      }
    }
    // Shoes.
    for (const leg of legs) r.fillEllipse(leg.ankle[0], leg.ankle[1] + P(0.022), P(0.034 * g), P(0.02), solid(shoe));
    // Hips / skirt.
    if (o.lowerType === 'skirt') {
      r.fillPolygon([X(-0.096 * g), Yb(0.45), X(0.096 * g), Yb(0.45), X(0.15 * g), Yb(0.69), X(-0.15 * g), Yb(0.69)], upperPaintFor(lower, X(0), P(0.15 * g)));
    } else {
      r.fillPolygon([X(-0.097 * g), Yb(0.45), X(0.097 * g), Yb(0.45), X(0.1 * g), Yb(0.56), X(-0.1 * g), Yb(0.56)], limbPaint(lower, X(0), P(0.1 * g)));
    }

    // Shoulder bag and hand bag hang beside the hip, behind the arm.
    if (o.bag === 'shoulder') {
      const bx = X(right * o.bagSide * 0.125 * g);
      r.fillRect(bx - P(0.045), Yb(0.455), bx + P(0.045), Yb(0.56), limbPaint(bagC, bx, P(0.05)));
      r.fillRect(bx - P(0.045), Yb(0.455), bx + P(0.045), Yb(0.475), solid(shade(bagC, 0.7)));
    }

    // Torso.
    const chest = [X(-0.068 * g), Yb(0.152), X(-0.118 * g), Yb(0.18), X(-0.097 * g), Yb(0.45), X(0.097 * g), Yb(0.45), X(0.118 * g), Yb(0.18), X(0.068 * g), Yb(0.152)];
    r.fillPolygon(chest, upperPaint(X(0), P(0.12 * g)));
    r.fillPolygon([X(-0.097 * g), Yb(0.449), X(0.097 * g), Yb(0.449), X(hemHW), Yb(hemY), X(-hemHW), Yb(hemY)], upperPaint(X(0), P(0.12 * g)));
    garmentDetailsFrontBack(front);

    // Backpack on the back (back view), straps (front view).
    if (o.bag === 'backpack') {
      if (front) {
        for (const side of [-1, 1]) r.fillCapsule(X(side * 0.066 * g), Yb(0.16), X(side * 0.083 * g), Yb(0.34), P(0.013), P(0.012), solid(shade(bagC, 0.85)));
      } else {
        r.fillPolygon([X(-0.08 * g), Yb(0.2), X(0.08 * g), Yb(0.2), X(0.088 * g), Yb(0.44), X(-0.088 * g), Yb(0.44)], limbPaint(bagC, X(0), P(0.09 * g)));
        r.fillRect(X(-0.06 * g), Yb(0.33), X(0.06 * g), Yb(0.42), solid(shade(bagC, 0.75)));
        r.fillCapsule(X(-0.03), Yb(0.195), X(0.03), Yb(0.195), P(0.007), P(0.007), solid(shade(bagC, 0.6)));
      }
    }
    if (o.bag === 'shoulder') {
      const top = X(-right * o.bagSide * 0.07 * g);
      const bot = X(right * o.bagSide * 0.11 * g);
      r.fillCapsule(top, Yb(0.16), bot, Yb(0.46), P(0.01), P(0.01), solid(shade(bagC, 0.8)));
    }

    // Arms.
    for (const arm of arms) {
      const sl = sleeveEnd;
      const up = (t: number) => [arm.shoulder[0] + (arm.elbow[0] - arm.shoulder[0]) * t, arm.shoulder[1] + (arm.elbow[1] - arm.shoulder[1]) * t] as const;
      r.fillCapsule(arm.shoulder[0], arm.shoulder[1], arm.elbow[0], arm.elbow[1], P(0.029 * g), P(0.024 * g), limbPaint(skin, arm.shoulder[0], P(0.03 * g)));
      r.fillCapsule(arm.elbow[0], arm.elbow[1], arm.wrist[0], arm.wrist[1], P(0.024 * g), P(0.02 * g), limbPaint(skin, arm.elbow[0], P(0.025 * g)));
      if (sl > 0) {
        if (sl >= 1) {
          r.fillCapsule(arm.shoulder[0], arm.shoulder[1], arm.elbow[0], arm.elbow[1], P(0.031 * g), P(0.026 * g), upperPaint(arm.shoulder[0], P(0.032 * g)));
          r.fillCapsule(arm.elbow[0], arm.elbow[1], arm.wrist[0], arm.wrist[1], P(0.026 * g), P(0.022 * g), upperPaint(arm.elbow[0], P(0.027 * g)));
        } else {
          const e = up(sl * 2);
          r.fillCapsule(arm.shoulder[0], arm.shoulder[1], e[0], e[1], P(0.033 * g), P(0.03 * g), upperPaint(arm.shoulder[0], P(0.034 * g)));
        }
      }
      r.fillEllipse(arm.wrist[0], arm.wrist[1] + P(0.018), P(0.02), P(0.024), solid(skin));
      if (o.bag === 'hand' && arm.side === right * o.bagSide) {
        const hx = arm.wrist[0];
        const hy = arm.wrist[1] + P(0.03);
        r.fillRect(hx - P(0.042), hy, hx + P(0.042), hy + P(0.075), limbPaint(bagC, hx, P(0.045)));
        r.fillRect(hx - P(0.042), hy, hx + P(0.042), hy + P(0.012), solid(shade(bagC, 0.7)));
      }
    }

    // Neck and head.
    r.fillRect(X(-0.02), Yb(0.11), X(0.02), Yb(0.16), solid(shade(skin, 0.9)));
    const buzz = body.hairStyle === 'buzz';
    const hairC = buzz ? mixRgb(hair, skin, 0.45) : hair;
    if (front) {
      r.fillEllipse(X(0), Yb(0.058), P(0.052), P(0.058), solid(hairC));
      r.fillEllipse(X(0), Yb(buzz ? 0.07 : 0.076), P(buzz ? 0.046 : 0.043), P(buzz ? 0.055 : 0.05), solid(skin));
      r.fillEllipse(X(-0.016), Yb(0.072), P(0.006), P(0.005), solid([0.05, 0.05, 0.05], 0.6));
      r.fillEllipse(X(0.016), Yb(0.072), P(0.006), P(0.005), solid([0.05, 0.05, 0.05], 0.6));
    } else {
      r.fillEllipse(X(0), Yb(0.064), P(0.05), P(0.062), solid(hairC));
      if (body.hairStyle === 'long') r.fillRect(X(-0.056), Yb(0.07), X(0.056), Yb(0.26), solid(hair));
      if (body.hairStyle === 'ponytail') r.fillCapsule(X(0), Yb(0.09), X(0), Yb(0.21), P(0.02), P(0.012), solid(hair));
    }
    drawHat(0, front ? 1 : -1);
  }

  function upperPaintFor(c: Rgb, cx: number, hw: number): Paint {
    return { color: c, shadeCx: cx, shadeHalfWidth: hw, shadeAmount: 0.22 };
  }

  function garmentDetailsFrontBack(front: boolean): void {
    switch (o.upperType) {
      case 'shirt':
        if (front) {
          r.fillPolygon([X(-0.045), Yb(0.15), X(0), Yb(0.2), X(-0.01), Yb(0.215), X(-0.055), Yb(0.17)], solid(shade(accent, 1)));
          r.fillPolygon([X(0.045), Yb(0.15), X(0.055), Yb(0.17), X(0.01), Yb(0.215), X(0), Yb(0.2)], solid(shade(accent, 1)));
          r.fillRect(X(-0.004), Yb(0.2), X(0.004), Yb(hemY), solid(upperDark));
        } else {
          r.fillRect(X(-0.05), Yb(0.148), X(0.05), Yb(0.17), solid(accent));
        }
        break;
      case 'jacket':
        if (front) {
          r.fillPolygon([X(-0.03 * g), Yb(0.155), X(0.03 * g), Yb(0.155), X(0.026 * g), Yb(hemY), X(-0.026 * g), Yb(hemY)], solid(accent));
          r.fillCapsule(X(-0.04 * g), Yb(0.16), X(-0.03 * g), Yb(hemY - 0.01), P(0.006), P(0.006), solid(upperDark));
          r.fillCapsule(X(0.04 * g), Yb(0.16), X(0.03 * g), Yb(hemY - 0.01), P(0.006), P(0.006), solid(upperDark));
        } else {
          r.fillRect(X(-0.1 * g), Yb(hemY - 0.025), X(0.1 * g), Yb(hemY), solid(upperDark));
        }
        break;
      case 'hoodie':
        if (front) {
          r.fillEllipse(X(0), Yb(0.158), P(0.065), P(0.025), solid(upperDark));
          r.fillCapsule(X(-0.018), Yb(0.17), X(-0.02), Yb(0.27), P(0.005), P(0.005), solid(accent));
          r.fillCapsule(X(0.018), Yb(0.17), X(0.02), Yb(0.27), P(0.005), P(0.005), solid(accent));
          r.fillRect(X(-0.06 * g), Yb(0.36), X(0.06 * g), Yb(0.44), solid(upperDark));
        } else {
          r.fillEllipse(X(0), Yb(0.185), P(0.07), P(0.05), solid(upperDark));
        }
        break;
      case 'coat':
        r.fillRect(X(-0.06), Yb(0.15), X(0.06), Yb(0.18), solid(upperDark));
        if (front) {
          for (const v of [0.25, 0.33, 0.41, 0.49]) r.fillEllipse(X(0.015), Yb(v), P(0.008), P(0.008), solid(shade(upperDark, 0.5)));
          r.fillRect(X(-0.002), Yb(0.18), X(0.003), Yb(hemY), solid(upperDark));
        }
        break;
      case 'tee':
        if (front) r.fillEllipse(X(0), Yb(0.153), P(0.03), P(0.012), solid(upperDark));
        break;
    }
    if (front && o.logo !== null) {
      const lx = o.upperType === 'jacket' ? X(0.058 * g) : X(0);
      const c = solid(shade(o.logoColor, L));
      const sc = o.upperType === 'jacket' ? 0.7 : 1;
      if (o.logo === 'square') r.fillRect(lx - P(0.03 * sc), Yb(0.24), lx + P(0.03 * sc), Yb(0.24 + 0.06 * sc), c);
      else if (o.logo === 'circle') r.fillEllipse(lx, Yb(0.27), P(0.033 * sc), P(0.033 * sc), c);
      else r.fillRect(lx - P(0.065 * sc), Yb(0.25), lx + P(0.065 * sc), Yb(0.25 + 0.028), c);
    }
  }

  /** Hat; dir is +1 facing the camera, -1 facing away, or the side-view facing when sideways. */
  function drawHat(dx: number, dir: number): void {
    if (o.hat === null) return;
    const cx = X(dx);
    if (o.hat === 'cap') {
      r.fillEllipse(cx, Yb(0.032), P(0.055), P(0.036), solid(hatC));
      r.fillRect(cx - P(0.055), Yb(0.032), cx + P(0.055), Yb(0.045), solid(hatC));
      if (view === 'side') r.fillCapsule(cx, Yb(0.043), cx + dir * P(0.085), Yb(0.048), P(0.008), P(0.007), solid(shade(hatC, 0.8)));
      else if (dir > 0) r.fillEllipse(cx, Yb(0.046), P(0.056), P(0.012), solid(shade(hatC, 0.8)));
    } else {
      r.fillEllipse(cx, Yb(0.036), P(0.056), P(0.042), solid(hatC));
      r.fillRect(cx - P(0.056), Yb(0.036), cx + P(0.056), Yb(0.058), solid(shade(hatC, 0.82)));
    }
  }

  // ---- side view ----
  function drawSide(): void {
    const reach = 0.13;
    const legs = [1, -1].map((dir) => {
      const fx = dir * reach * sw * s;
      const lift = Math.max(0, -dir * sw) * 0.018; // the trailing foot lifts its heel
      // Knees sit halfway to the foot and bend forward.
      return {
        hip: [X(0), Yb(0.52)] as const,
        knee: [X(fx * 0.5 + s * 0.02), Yb(0.735 - lift)] as const,
        ankle: [X(fx), Y(0.945 - lift)] as const,
      };
    });
    const armFor = (dir: number) => {
      const hx = -dir * 0.1 * sw * s;
      return {
        shoulder: [X(s * 0.005), Yb(0.19)] as const,
        elbow: [X(hx * 0.45 - s * 0.006), Yb(0.33)] as const,
        wrist: [X(hx), Yb(0.465 - 0.025 * sw * sw)] as const,
      };
    };
    const near = legs[0];
    const far = legs[1];
    const nearArm = armFor(1);
    const farArm = armFor(-1);
    const bagNear = o.bagSide === s;

    const drawLeg = (leg: (typeof legs)[number], f: number) => {
      const lc = shade(o.lowerType === 'trousers' ? lower : skin, f);
      r.fillCapsule(leg.hip[0], leg.hip[1], leg.knee[0], leg.knee[1], P(0.047 * g), P(0.034 * g), solid(lc));
      r.fillCapsule(leg.knee[0], leg.knee[1], leg.ankle[0], leg.ankle[1], P(0.034 * g), P(0.025 * g), solid(lc));
      if (o.lowerType === 'shorts') {
        const ex = leg.hip[0] + (leg.knee[0] - leg.hip[0]) * 0.7;
        const ey = leg.hip[1] + (leg.knee[1] - leg.hip[1]) * 0.7;
        r.fillCapsule(leg.hip[0], leg.hip[1], ex, ey, P(0.052 * g), P(0.046 * g), solid(shade(lower, f)));
      }
      r.fillEllipse(leg.ankle[0] + P(s * 0.018), leg.ankle[1] + P(0.022), P(0.048), P(0.02), solid(shade(shoe, f)));
    };
    const drawArm = (arm: ReturnType<typeof armFor>, f: number) => {
      r.fillCapsule(arm.shoulder[0], arm.shoulder[1], arm.elbow[0], arm.elbow[1], P(0.027 * g), P(0.023 * g), solid(shade(skin, f)));
      r.fillCapsule(arm.elbow[0], arm.elbow[1], arm.wrist[0], arm.wrist[1], P(0.023 * g), P(0.019 * g), solid(shade(skin, f)));
      if (sleeveEnd >= 1) {
        r.fillCapsule(arm.shoulder[0], arm.shoulder[1], arm.elbow[0], arm.elbow[1], P(0.03 * g), P(0.025 * g), upperPaint(arm.shoulder[0], P(0.03), f));
        r.fillCapsule(arm.elbow[0], arm.elbow[1], arm.wrist[0], arm.wrist[1], P(0.025 * g), P(0.021 * g), upperPaint(arm.elbow[0], P(0.03), f));
      } else if (sleeveEnd > 0) {
        const ex = arm.shoulder[0] + (arm.elbow[0] - arm.shoulder[0]) * 0.9;
        const ey = arm.shoulder[1] + (arm.elbow[1] - arm.shoulder[1]) * 0.9;
        r.fillCapsule(arm.shoulder[0], arm.shoulder[1], ex, ey, P(0.032 * g), P(0.03 * g), upperPaint(arm.shoulder[0], P(0.03), f));
      }
      r.fillEllipse(arm.wrist[0], arm.wrist[1] + P(0.018), P(0.019), P(0.023), solid(shade(skin, f)));
    };
    const drawHandBag = (arm: ReturnType<typeof armFor>, f: number) => {
      const hx = arm.wrist[0];
      const hy = arm.wrist[1] + P(0.03);
      r.fillRect(hx - P(0.04), hy, hx + P(0.04), hy + P(0.075), solid(shade(bagC, f)));
      r.fillRect(hx - P(0.04), hy, hx + P(0.04), hy + P(0.012), solid(shade(bagC, 0.7 * f)));
    };
    const drawShoulderBag = (f: number) => {
      const bx = X(-s * 0.015);
      r.fillRect(bx - P(0.05), Yb(0.455), bx + P(0.05), Yb(0.56), solid(shade(bagC, f)));
      r.fillRect(bx - P(0.05), Yb(0.455), bx + P(0.05), Yb(0.475), solid(shade(bagC, 0.7 * f)));
    };

    if (body.hairStyle === 'long') r.fillRect(X(-s * 0.06), Yb(0.06), X(-s * 0.01), Yb(0.25), solid(hair));
    drawArm(farArm, 0.78);
    if (o.bag === 'hand' && !bagNear) drawHandBag(farArm, 0.78);
    if (o.bag === 'shoulder' && !bagNear) drawShoulderBag(0.8);
    drawLeg(far, 0.8);
    drawLeg(near, 1);
    // Hips / skirt.
    if (o.lowerType === 'skirt') {
      r.fillPolygon([X(-s * 0.06 * g), Yb(0.45), X(s * 0.065 * g), Yb(0.45), X(s * 0.11 * g), Yb(0.69), X(-s * 0.1 * g), Yb(0.69)], upperPaintFor(lower, X(0), P(0.11 * g)));
    } else {
      r.fillPolygon([X(-s * 0.06 * g), Yb(0.45), X(s * 0.065 * g), Yb(0.45), X(s * 0.058 * g), Yb(0.56), X(-s * 0.062 * g), Yb(0.56)], upperPaintFor(lower, X(0), P(0.07 * g)));
    }
    // Backpack sticks out behind.
    if (o.bag === 'backpack') {
      const b0 = -s * 0.05 * g;
      const b1 = -s * (0.058 * g + 0.075);
      r.fillPolygon([X(b0), Yb(0.2), X(b1), Yb(0.21), X(b1), Yb(0.43), X(b0), Yb(0.44)], limbPaint(bagC, X((b0 + b1) / 2), P(0.045)));
      r.fillRect(Math.min(X(b1), X(b1 + s * 0.02)), Yb(0.32), Math.max(X(b1), X(b1 + s * 0.02)), Yb(0.42), solid(shade(bagC, 0.75)));
    }
    // Hood bump.
    if (o.upperType === 'hoodie') r.fillEllipse(X(-s * 0.045), Yb(0.16), P(0.04), P(0.045), solid(upperDark));
    // Torso (profile).
    r.fillPolygon([
      X(s * 0.045 * g), Yb(0.152), X(s * 0.078 * g), Yb(0.245), X(s * 0.064 * g), Yb(0.455),
      X(-s * 0.06 * g), Yb(0.455), X(-s * 0.068 * g), Yb(0.2), X(-s * 0.035 * g), Yb(0.152),
    ], upperPaint(X(0), P(0.08 * g)));
    r.fillPolygon([X(s * 0.064 * g), Yb(0.454), X(-s * 0.06 * g), Yb(0.454), X(-s * (hemHW * 0.75)), Yb(hemY), X(s * (hemHW * 0.8)), Yb(hemY)], upperPaint(X(0), P(0.08 * g)));
    if (o.upperType === 'jacket') r.fillRect(Math.min(X(s * 0.058 * g), X(s * 0.07 * g)), Yb(0.17), Math.max(X(s * 0.058 * g), X(s * 0.07 * g)), Yb(hemY), solid(accent));
    if (o.upperType === 'coat' || o.upperType === 'jacket') r.fillRect(X(-0.06 * g), Yb(hemY - 0.02), X(0.06 * g), Yb(hemY), solid(upperDark));
    if (o.bag === 'backpack') r.fillCapsule(X(s * 0.02), Yb(0.16), X(-s * 0.01), Yb(0.34), P(0.012), P(0.011), solid(shade(bagC, 0.85)));
    if (o.bag === 'shoulder') {
      r.fillCapsule(X(s * 0.01), Yb(0.16), X(-s * 0.02), Yb(0.46), P(0.01), P(0.01), solid(shade(bagC, 0.8)));
      if (bagNear) drawShoulderBag(1);
    }
    drawArm(nearArm, 1);
    if (o.bag === 'hand' && bagNear) drawHandBag(nearArm, 1);
    // Neck and head.
    r.fillRect(X(-0.02), Yb(0.11), X(0.02), Yb(0.16), solid(shade(skin, 0.9)));
    const buzz = body.hairStyle === 'buzz';
    const hairC = buzz ? mixRgb(hair, skin, 0.45) : hair;
    r.fillEllipse(X(s * 0.008), Yb(0.068), P(0.05), P(0.06), solid(skin));
    r.fillEllipse(X(-s * 0.01), Yb(0.058), P(0.048), P(0.054), solid(hairC));
    r.fillEllipse(X(s * 0.05), Yb(0.072), P(0.01), P(0.012), solid(skin)); // nose
    if (body.hairStyle === 'ponytail') r.fillCapsule(X(-s * 0.05), Yb(0.07), X(-s * 0.075), Yb(0.17), P(0.018), P(0.01), solid(hair));
    drawHat(0, s);
  }
}
