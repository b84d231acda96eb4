/**
 * Identities and outfit families of SynthReID.
 *
 * A family is a base outfit plus siblings that each change a few small cues (logo, pattern,
 * sleeve length, shoes, bag, hat, hair, build, ...) while keeping the main upper and lower
 * colours. Families are what make the benchmark need more than colour: two siblings have
 * nearly the same colour histogram, but differ in several shape/detail cues that are visible
 * at 128x64 and stay the same for one person across cameras.
 */
import type { Prng } from '../../util/prng';
import { clamp, gauss } from './detmath';
import { CLOTHING_PALETTE, HAIR_COLORS, SKIN_TONES, colorDistance2, jitterColor, type Rgb } from './palette';

/** 'pool' is tier P's pre-training pool: many people under randomised cameras, no fixed network. */
export type SynthDomain = 'source' | 'target' | 'pool';
export type UpperType = 'tee' | 'shirt' | 'jacket' | 'hoodie' | 'coat';
export type SleeveLength = 'none' | 'short' | 'long';
export type UpperPattern = 'plain' | 'stripes' | 'checks';
export type LogoShape = 'square' | 'circle' | 'bar';
export type LowerType = 'trousers' | 'shorts' | 'skirt';
export type HairStyle = 'short' | 'long' | 'ponytail' | 'buzz';
export type HatKind = 'cap' | 'beanie';
export type BagKind = 'none' | 'backpack' | 'shoulder' | 'hand';

export interface Outfit {
  upperType: UpperType;
  sleeves: SleeveLength;
  upperColor: Rgb;
  /** Accent colour: stripes/checks, logo, the inner shirt of an open jacket. */
  accentColor: Rgb;
  pattern: UpperPattern;
  /** Stripe or check period in body units (fraction of body height). */
  patternPeriod: number;
  logo: LogoShape | null;
  logoColor: Rgb;
  lowerType: LowerType;
  lowerColor: Rgb;
  shoeColor: Rgb;
  bag: BagKind;
  bagColor: Rgb;
  /** Which side a shoulder or hand bag hangs on: +1 the person's right, -1 left. */
  bagSide: 1 | -1;
  hat: HatKind | null;
  hatColor: Rgb;
}

export interface Body {
  /** Height relative to the average person (1). */
  height: number;
  /** Width relative to the average person (1). */
  girth: number;
  skin: Rgb;
  hairStyle: HairStyle;
  hairColor: Rgb;
  /** Stride amplitude of the walking pose. */
  stride: number;
}

export interface Identity {
  /** Market-1501 person id (> 0). */
  pid: number;
  /** Index of the outfit family this person belongs to. */
  family: number;
  /** Cues in which this person differs from the family's base outfit (empty for the base). */
  cues: string[];
  body: Body;
  outfit: Outfit;
}

/** Where a domain's clothing comes from: weights over the palette and garment kinds. */
export interface ClothingPrior {
  upperColorWeights: readonly number[];
  lowerColorWeights: readonly number[];
  upperType: Readonly<Record<UpperType, number>>;
  sleevesForShortTops: Readonly<Record<SleeveLength, number>>;
  lowerType: Readonly<Record<LowerType, number>>;
  pattern: Readonly<Record<UpperPattern, number>>;
  logoRate: number;
  hatRate: number;
  hatKind: Readonly<Record<HatKind, number>>;
  bag: Readonly<Record<BagKind, number>>;
}

// Palette order: black charcoal grey light-grey white navy blue sky denim red maroon pink orange
// yellow beige brown olive green teal purple.
const SOURCE_PRIOR: ClothingPrior = {
  upperColorWeights: [4, 2, 3, 2, 5, 3, 4, 3, 1, 4, 2, 3, 3, 3, 2, 2, 2, 3, 2, 2],
  lowerColorWeights: [6, 3, 3, 1, 1, 3, 2, 1, 6, 1, 1, 1, 0, 0, 4, 2, 2, 1, 0, 0],
  upperType: { tee: 4, shirt: 2, jacket: 1.5, hoodie: 1.5, coat: 0.5 },
  sleevesForShortTops: { none: 1, short: 5, long: 3 },
  lowerType: { trousers: 5, shorts: 3, skirt: 2 },
  pattern: { plain: 5, stripes: 2, checks: 1.5 },
  logoRate: 0.35,
  hatRate: 0.2,
  hatKind: { cap: 3, beanie: 1 },
  bag: { none: 3, backpack: 3, shoulder: 2, hand: 1.5 },
};

// Indoor, evening, colder season: darker colours, coats and jackets, long sleeves, trousers.
const TARGET_PRIOR: ClothingPrior = {
  upperColorWeights: [7, 5, 4, 1, 2, 5, 2, 1, 1, 2, 4, 1, 1, 1, 3, 4, 3, 2, 2, 2],
  lowerColorWeights: [8, 5, 4, 1, 0, 4, 1, 0, 5, 0, 1, 0, 0, 0, 3, 3, 2, 0, 0, 0],
  upperType: { tee: 1, shirt: 1.5, jacket: 3, hoodie: 2, coat: 3 },
  sleevesForShortTops: { none: 0.3, short: 2, long: 5 },
  lowerType: { trousers: 8, shorts: 0.7, skirt: 2 },
  pattern: { plain: 5, stripes: 1.5, checks: 2 },
  logoRate: 0.3,
  hatRate: 0.25,
  hatKind: { cap: 1, beanie: 3 },
  bag: { none: 2.5, backpack: 3, shoulder: 2.5, hand: 2 },
};

// The pool's "other" prior: every palette colour and garment about equally likely, so
// pre-training sees clothing neither domain favours (the target's dark, cold-season mix included
// only as far as a uniform draw reaches it).
const BROAD_PRIOR: ClothingPrior = {
  upperColorWeights: new Array<number>(CLOTHING_PALETTE.length).fill(1),
  lowerColorWeights: new Array<number>(CLOTHING_PALETTE.length).fill(1),
  upperType: { tee: 1, shirt: 1, jacket: 1, hoodie: 1, coat: 1 },
  sleevesForShortTops: { none: 1, short: 1, long: 1 },
  lowerType: { trousers: 2, shorts: 1, skirt: 1 },
  pattern: { plain: 2, stripes: 1, checks: 1 },
  logoRate: 0.35,
  hatRate: 0.25,
  hatKind: { cap: 1, beanie: 1 },
  bag: { none: 1, backpack: 1, shoulder: 1, hand: 1 },
};

/** A domain's clothing prior; for 'pool' the broad one (pool families also draw the source's: see roster.ts). */
export function clothingPrior(domain: SynthDomain): ClothingPrior {
  return domain === 'source' ? SOURCE_PRIOR : domain === 'target' ? TARGET_PRIOR : BROAD_PRIOR;
}

function pickKey<K extends string>(prng: Prng, weights: Readonly<Record<K, number>>): K {
  const keys = Object.keys(weights) as K[];
  return keys[prng.weighted(keys.map((k) => weights[k]))];
}

function paletteColor(prng: Prng, weights: readonly number[]): Rgb {
  return jitterColor(CLOTHING_PALETTE[prng.weighted(weights)].rgb, prng);
}

/** An accent colour clearly different from `avoid` (so logos and stripes are visible). */
function accentColor(prng: Prng, avoid: Rgb): Rgb {
  for (let tries = 0; tries < 20; tries++) {
    const c = jitterColor(prng.pick(CLOTHING_PALETTE).rgb, prng, 0.5);
    if (colorDistance2(c, avoid) > 0.18) return c;
  }
  return avoid[0] + avoid[1] + avoid[2] > 1.5 ? [0.08, 0.08, 0.1] : [0.9, 0.9, 0.88];
}

function sleevesFor(prng: Prng, prior: ClothingPrior, type: UpperType): SleeveLength {
  if (type === 'jacket' || type === 'coat' || type === 'hoodie') return 'long';
  return pickKey(prng, prior.sleevesForShortTops);
}

const SHOE_COLORS: readonly Rgb[] = [
  [0.06, 0.06, 0.06],
  [0.92, 0.92, 0.9],
  [0.35, 0.22, 0.12],
  [0.45, 0.45, 0.48],
  [0.75, 0.15, 0.12],
  [0.2, 0.3, 0.6],
];

function sampleBody(prng: Prng): Body {
  const style = prng.weighted([4, 3, 2, 1]);
  return {
    height: clamp(1 + 0.045 * gauss(prng), 0.88, 1.1),
    girth: clamp(1 + 0.09 * gauss(prng), 0.8, 1.25),
    skin: jitterColor(SKIN_TONES[prng.int(0, SKIN_TONES.length - 1)], prng, 0.4),
    hairStyle: (['short', 'long', 'ponytail', 'buzz'] as const)[style],
    hairColor: jitterColor(HAIR_COLORS[prng.weighted([5, 4, 2, 1, 1, 1])], prng, 0.4),
    stride: prng.uniform(0.7, 1.0),
  };
}

function sampleOutfit(prng: Prng, prior: ClothingPrior): Outfit {
  const upperType = pickKey(prng, prior.upperType);
  const upperColor = paletteColor(prng, prior.upperColorWeights);
  let lowerColor = paletteColor(prng, prior.lowerColorWeights);
  const hatColor = jitterColor(prng.pick(CLOTHING_PALETTE).rgb, prng, 0.5);
  if (colorDistance2(lowerColor, upperColor) < 0.01) lowerColor = paletteColor(prng, prior.lowerColorWeights);
  return {
    upperType,
    sleeves: sleevesFor(prng, prior, upperType),
    upperColor,
    accentColor: accentColor(prng, upperColor),
    pattern: pickKey(prng, prior.pattern),
    patternPeriod: prng.uniform(0.045, 0.07),
    logo: prng.bool(prior.logoRate) ? prng.pick(['square', 'circle', 'bar'] as const) : null,
    logoColor: accentColor(prng, upperColor),
    lowerType: pickKey(prng, prior.lowerType),
    lowerColor,
    shoeColor: jitterColor(SHOE_COLORS[prng.weighted([5, 4, 2, 2, 1, 1])], prng, 0.3),
    bag: pickKey(prng, prior.bag),
    bagColor: jitterColor(CLOTHING_PALETTE[prng.weighted([5, 3, 2, 0, 0, 3, 2, 0, 0, 2, 1, 1, 1, 1, 2, 4, 2, 1, 1, 1])].rgb, prng, 0.5),
    bagSide: prng.bool() ? 1 : -1,
    hat: prng.bool(prior.hatRate) ? pickKey(prng, prior.hatKind) : null,
    hatColor,
  };
}

/** The small cues siblings differ in. Each mutation is guaranteed to change what it names. */
export const FAMILY_CUES = [
  'pattern', 'logo', 'accent', 'sleeves', 'lower', 'shoes', 'bag', 'hat', 'hair', 'build', 'upper-type',
] as const;
export type FamilyCue = (typeof FAMILY_CUES)[number];

function differentFrom<T>(prng: Prng, options: readonly T[], current: T): T {
  const rest = options.filter((o) => o !== current);
  return prng.pick(rest);
}

/** Apply one cue change in place; returns false when the cue cannot apply to this outfit. */
function mutate(cue: FamilyCue, prng: Prng, prior: ClothingPrior, body: Body, o: Outfit): boolean {
  switch (cue) {
    case 'pattern':
      o.pattern = differentFrom(prng, ['plain', 'stripes', 'checks'] as const, o.pattern);
      return true;
    case 'logo':
      o.logo = o.logo === null ? prng.pick(['square', 'circle', 'bar'] as const) : prng.bool(0.6) ? null : differentFrom(prng, ['square', 'circle', 'bar'] as const, o.logo);
      if (o.logo !== null) o.logoColor = accentColor(prng, o.upperColor);
      return true;
    case 'accent': {
      if (o.pattern === 'plain' && o.logo === null && o.upperType !== 'jacket') return false;
      const old = o.accentColor;
      for (let i = 0; i < 10 && colorDistance2(o.accentColor, old) < 0.15; i++) o.accentColor = accentColor(prng, o.upperColor);
      o.logoColor = o.accentColor;
      return colorDistance2(o.accentColor, old) >= 0.15;
    }
    case 'sleeves':
      if (o.upperType === 'jacket' || o.upperType === 'coat' || o.upperType === 'hoodie') return false;
      o.sleeves = differentFrom(prng, ['none', 'short', 'long'] as const, o.sleeves);
      return true;
    case 'lower':
      o.lowerType = differentFrom(prng, ['trousers', 'shorts', 'skirt'] as const, o.lowerType);
      return true;
    case 'shoes': {
      const old = o.shoeColor;
      const dark = old[0] + old[1] + old[2] < 1.2;
      o.shoeColor = dark ? jitterColor(prng.pick([[0.92, 0.92, 0.9], [0.75, 0.15, 0.12], [0.85, 0.75, 0.55]] as const), prng, 0.3) : jitterColor([0.06, 0.06, 0.06], prng, 0.3);
      return true;
    }
    case 'bag':
      o.bag = differentFrom(prng, ['none', 'backpack', 'shoulder', 'hand'] as const, o.bag);
      o.bagSide = prng.bool() ? 1 : -1;
      return true;
    case 'hat':
      o.hat = o.hat === null ? pickKey(prng, prior.hatKind) : null;
      return true;
    case 'hair': {
      body.hairStyle = differentFrom(prng, ['short', 'long', 'ponytail', 'buzz'] as const, body.hairStyle);
      if (prng.bool(0.5)) body.hairColor = jitterColor(HAIR_COLORS[prng.int(0, HAIR_COLORS.length - 1)], prng, 0.4);
      return true;
    }
    case 'build': {
      const dh = (prng.bool() ? 1 : -1) * prng.uniform(0.07, 0.11);
      body.height = clamp(body.height + dh, 0.86, 1.14);
      body.girth = clamp(body.girth + (prng.bool() ? 1 : -1) * prng.uniform(0.15, 0.22), 0.78, 1.3);
      return true;
    }
    case 'upper-type': {
      o.upperType = differentFrom(prng, ['tee', 'shirt', 'jacket', 'hoodie', 'coat'] as const, o.upperType);
      o.sleeves = sleevesFor(prng, prior, o.upperType);
      return true;
    }
  }
}

function cloneBody(b: Body): Body {
  return { ...b };
}

function cloneOutfit(o: Outfit): Outfit {
  return { ...o };
}

export interface FamilyOptions {
  domain: SynthDomain;
  /** Clothing prior of this family (default: the domain's). */
  prior?: ClothingPrior;
  /** Number of cue changes per sibling (relative to the base outfit). */
  cuesPerSibling: number;
}

/**
 * One outfit family of `size` people: member 0 is the base, each other member changes
 * `cuesPerSibling` distinct cues. Siblings keep the base's main colours (with a little jitter).
 */
export function sampleFamily(prng: Prng, familyIndex: number, size: number, pids: readonly number[], options: FamilyOptions): Identity[] {
  const prior = options.prior ?? clothingPrior(options.domain);
  const baseBody = sampleBody(prng);
  const baseOutfit = sampleOutfit(prng, prior);
  const members: Identity[] = [];
  for (let m = 0; m < size; m++) {
    const body = cloneBody(baseBody);
    const outfit = cloneOutfit(baseOutfit);
    const cues: string[] = [];
    if (m > 0) {
      const order = prng.shuffle([...FAMILY_CUES]);
      for (const cue of order) {
        if (cues.length >= options.cuesPerSibling) break;
        if (mutate(cue, prng, prior, body, outfit)) cues.push(cue);
      }
      // Siblings are different garments of the same colour, not the same garment.
      outfit.upperColor = jitterColor(outfit.upperColor, prng, 0.35);
      outfit.lowerColor = jitterColor(outfit.lowerColor, prng, 0.35);
      body.stride = clamp(body.stride + 0.1 * gauss(prng), 0.6, 1.05);
    }
    members.push({ pid: pids[m], family: familyIndex, cues, body, outfit });
  }
  return members;
}

/** A one-off person (crowd occluders, distractors): a fresh outfit from the domain's prior. */
export function sampleStranger(prng: Prng, domain: SynthDomain): Identity {
  const prior = clothingPrior(domain);
  return { pid: 0, family: -1, cues: [], body: sampleBody(prng), outfit: sampleOutfit(prng, prior) };
}
