import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeStoreConformance } from '@cachevol/core/testing';
import pg from 'pg';
import { REAL_SYSTEM_TEST_TIMEOUT_MS } from '../../../test-support/deadlines.js';
import { createPostgresStore } from '../src/index.js';
import { describeWithPostgres } from './helpers/postgres.js';

const fixture = fileURLToPath(new URL('./fixtures/open-store.mjs', import.meta.url));
const built = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/** Short timeouts for the worker processes, so the stalled-writer test is quick. */
const WORKER_TIMEOUTS = { lockTimeoutMs: 1_000, idleInTransactionTimeoutMs: 500 };
/**
 * Timeouts of worker processes whose every write must succeed: deadlines for a hang, far above
 * how long another process holds a volume (or pauses inside its transaction) on a loaded machine.
 */
const PATIENT_TIMEOUTS = {
  lockTimeoutMs: 60_000,
  idleInTransactionTimeoutMs: 60_000,
  connectTimeoutMs: 60_000,
};

describeWithPostgres('postgres store', (db) => {
  describeStoreConformance('postgres', {
    clients: true,
    processes: true,
    stallMs: 2_000,
    timeout: REAL_SYSTEM_TEST_TIMEOUT_MS,
    create: () => {
      if (!existsSync(built))
        throw new Error(`${built} is missing: run \`npm run build\` first (the worker processes import it)`);
      const { url } = db();
      const schema = db().freshSchema();
      const open = () => createPostgresStore({ connectionString: url, schema });
      return {
        store: open(),
        open,
        worker: {
          module: fixture,
          config: { connectionString: url, schema, ...WORKER_TIMEOUTS },
          patientConfig: { connectionString: url, schema, ...PATIENT_TIMEOUTS },
        },
        cleanup: () => db().drop(schema),
      };
    },
  });

  // The same suite through pools the caller made (no pipelining: statements go one by one).
  describeStoreConformance('postgres, with pools passed in', {
    clients: true,
    processes: true,
    stallMs: 2_000,
    timeout: REAL_SYSTEM_TEST_TIMEOUT_MS,
    create: () => {
      const { url } = db();
      const schema = db().freshSchema();
      const pools: pg.Pool[] = [];
      const open = () => {
        const pool = new pg.Pool({ connectionString: url, max: 4 });
        pools.push(pool);
        return createPostgresStore({ pool, schema });
      };
      return {
        store: open(),
        open,
        worker: {
          module: fixture,
          config: { connectionString: url, schema, ...WORKER_TIMEOUTS },
          patientConfig: { connectionString: url, schema, ...PATIENT_TIMEOUTS },
        },
        cleanup: async () => {
          for (const pool of pools) await pool.end();
          await db().drop(schema);
        },
      };
    },
  });
});
