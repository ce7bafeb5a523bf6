/**
 * Where the SDK's time goes: wrappers that time every store and backend call, and a tracer
 * that records every child process spawned (the backends' `btrfs`/`zfs` commands) with its
 * run time, so each engine step can be split into store, backend commands and the rest.
 */
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { basename } from 'node:path';
import { now } from './util.mjs';

/**
 * @typedef {object} CommandRecord
 * @property {string} command - program name
 * @property {string[]} args - its arguments
 * @property {number} ms - from spawn to exit
 * @property {number} atMs - when it was spawned, in ms since the traced work began
 */

/** @type {CommandRecord[] | null} */
let sink = null;
let sinkStarted = 0;
let installed = false;

/**
 * Patches `child_process.spawn` (and the ESM bindings that execa imports) so that spawns made
 * inside {@link traceCommands} are recorded. Costs one closure per spawn.
 */
export function installCommandTracer() {
  if (installed) return;
  installed = true;
  const original = childProcess.spawn;
  childProcess.spawn = function tracedSpawn(...args) {
    const child = original.apply(this, args);
    if (sink) {
      const record = {
        command: basename(String(args[0])),
        args: Array.isArray(args[1]) ? args[1].map(String) : [],
        ms: Number.NaN,
        atMs: 0,
      };
      const started = now();
      record.atMs = started - sinkStarted;
      sink.push(record);
      child.once('exit', () => {
        record.ms = now() - started;
      });
    }
    return child;
  };
  syncBuiltinESMExports();
}

/**
 * Runs `fn` and returns what it returned plus the commands it spawned.
 *
 * @template T
 * @param {() => Promise<T>} fn - the work
 * @returns {Promise<{ result: T, commands: CommandRecord[] }>}
 */
export async function traceCommands(fn) {
  const previous = sink;
  const previousStarted = sinkStarted;
  const commands = [];
  sink = commands;
  sinkStarted = now();
  try {
    return { result: await fn(), commands };
  } finally {
    sink = previous;
    sinkStarted = previousStarted;
  }
}

/**
 * A copy of a backend whose methods add their run time to `totals` (`backend.<method>`).
 *
 * @template {import('@cachevol/core').Backend} B
 * @param {B} backend - the backend
 * @param {Record<string, number>} totals - ms per call kind, added to
 * @returns {B}
 */
export function timedBackend(backend, totals) {
  const wrapped = { ...backend };
  for (const method of [
    'createFork',
    'forkVersion',
    'commitFork',
    'discardFork',
    'removeVersion',
    'usage',
    'list',
    'hasChanges',
  ]) {
    const fn = backend[method];
    if (typeof fn !== 'function') continue;
    wrapped[method] = async (...args) => {
      const started = now();
      try {
        return await fn.apply(backend, args);
      } finally {
        const key = `backend.${method}`;
        totals[key] = (totals[key] ?? 0) + (now() - started);
      }
    };
  }
  return wrapped;
}

/**
 * A store whose calls add their run time to `totals`, by method (`store.transact`,
 * `store.findFork`, `store.read`, ...).
 *
 * @param {import('@cachevol/core').Store} store - the store
 * @param {Record<string, number>} totals - ms per call kind, added to
 * @returns {import('@cachevol/core').Store}
 */
export function timedStore(store, totals) {
  const time = async (key, work) => {
    const started = now();
    try {
      return await work();
    } finally {
      totals[key] = (totals[key] ?? 0) + (now() - started);
    }
  };
  const wrapped = { name: store.name };
  for (const method of ['read', 'transact', 'findFork', 'listVolumes', 'claimDue', 'pruneForks', 'close']) {
    wrapped[method] = (...args) => time(`store.${method}`, () => store[method](...args));
  }
  return wrapped;
}
