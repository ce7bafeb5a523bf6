import type { CacheVolumes } from '@cachevol/core';

// Kept apart from open.ts so that `main` can close what a command opened without loading the
// engine, the backends and the stores for the commands that never open any.

const opened = new Set<CacheVolumes>();

/**
 * Records an engine for {@link closeEngines}.
 *
 * @param engine - an engine `openEngine` just opened
 */
export function trackEngine(engine: CacheVolumes): void {
  opened.add(engine);
}

/** Closes every engine `openEngine` opened (their stores' files and connections). */
export async function closeEngines(): Promise<void> {
  const engines = [...opened];
  opened.clear();
  await Promise.all(engines.map((engine) => engine.close().catch(() => undefined)));
}
