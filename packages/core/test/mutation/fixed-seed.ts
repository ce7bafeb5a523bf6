import fc from 'fast-check';

/**
 * Mutation runs use one fixed fast-check seed (unless `CACHEVOL_SEED` picks another), so a
 * mutant is killed or survives the same way on every run and the score does not wander around
 * the break threshold. Ordinary test runs keep their random seeds.
 */
const seed = Number.parseInt(process.env.CACHEVOL_SEED ?? '', 10);
fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: Number.isFinite(seed) ? seed : 20_250_918 });
