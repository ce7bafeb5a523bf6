/**
 * A small seeded pseudo-random number generator (sfc32, seeded by hashing a string), so that
 * every tree the benchmark generates is the same on every run and every machine.
 */

/**
 * Hashes a string into four 32-bit seeds (the cyrb128 mixing steps).
 *
 * @param {string} text - any string
 * @returns {[number, number, number, number]}
 */
function seedWords(text) {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  return [(h1 ^ h2 ^ h3 ^ h4) >>> 0, (h2 ^ h1) >>> 0, (h3 ^ h1) >>> 0, (h4 ^ h1) >>> 0];
}

/**
 * @typedef {object} Rng
 * @property {() => number} next - a float in [0, 1)
 * @property {(min: number, max: number) => number} int - an integer in [min, max]
 * @property {(p: number) => boolean} chance - true with probability `p`
 * @property {<T>(items: readonly T[]) => T} pick - one item, uniformly
 * @property {(median: number, sigma: number, min?: number, max?: number) => number} logNormal -
 *   a log-normal integer with this median and log-space spread, clamped to [min, max]
 */

/**
 * Creates a seeded generator.
 *
 * @param {string} seed - any string; the same seed gives the same sequence
 * @returns {Rng}
 */
export function createRng(seed) {
  let [a, b, c, d] = seedWords(seed);
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next();
  const normal = () => {
    const u = 1 - next();
    const v = next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)],
    logNormal: (median, sigma, min = 1, max = Number.MAX_SAFE_INTEGER) =>
      Math.min(max, Math.max(min, Math.round(median * Math.exp(sigma * normal())))),
  };
}
