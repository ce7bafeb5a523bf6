import { increment } from '@cachevol/core/testing';
import { expect, it } from 'vitest';
import { createPostgresStore } from '../src/index.js';
import { describeWithPostgres } from './helpers/postgres.js';

describeWithPostgres(
  'postgres store: durable commits survive a server crash',
  (db) => {
    it('keeps every durable transaction it acknowledged when the server is killed right after', async () => {
      const cluster = db().cluster;
      if (!cluster) throw new Error('this suite starts its own cluster');
      const schema = db().freshSchema();
      const key = { scope: 'pipe', name: 'deps' };
      const store = createPostgresStore({ connectionString: db().url, schema });
      let acknowledged = 0;
      for (let i = 0; i < 40; i++) acknowledged = await store.transact(key, increment, { durable: true });
      // No checkpoint, no shutdown: the WAL that reached the disk is all that is left.
      await cluster.stop('immediate');
      await store.close();
      await cluster.start();
      const reopened = createPostgresStore({ connectionString: db().url, schema });
      try {
        expect((await reopened.read(key)).volume?.counts.hit).toBe(acknowledged);
      } finally {
        await reopened.close();
      }
    });
  },
  { ownCluster: true },
);
