import { createHash } from 'node:crypto';
import { escapeIdentifier } from 'pg';

/** A statement's text and the name it is prepared under (once per connection, by `pg`). */
export interface Prepared {
  readonly name: string;
  readonly text: string;
}

const prepared = (text: string): Prepared => ({
  name: `cachevol_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`,
  text,
});

/**
 * Every SQL statement the store runs, for one schema, as named (prepared) statements: each
 * connection parses and plans them once. The schema name is validated by the options schema and
 * quoted here; every value is a bind parameter.
 */
export interface Statements {
  /** The quoted schema, e.g. `"cachevol"`. */
  readonly schema: string;
  /** Locks a volume's row: `$1` scope, `$2` name. */
  readonly lockVolume: Prepared;
  /** Creates a volume's placeholder row if it does not exist: `$1` scope, `$2` name. */
  readonly insertPlaceholder: Prepared;
  /** A volume's live forks and the ended ones named: `$1` scope, `$2` name, `$3` ids. */
  readonly loadForks: Prepared;
  /** Claims due volumes, skipping locked ones: `$1` now, `$2` limit. */
  readonly claimDue: Prepared;
  /** As {@link Statements.claimDue}, also taking every volume with an intent in flight. */
  readonly claimForced: Prepared;
  /** The live forks of several volumes: `$1` scopes, `$2` names. */
  readonly loadLiveForksOf: Prepared;
  /** Writes forks, updates and deletes volume rows: `$1` forks, `$2` volume rows, `$3` rows to delete (jsonb). */
  readonly write: Prepared;
  /** One volume's record and live forks in one snapshot: `$1` scope, `$2` name. */
  readonly read: Prepared;
  /** The first page of volumes: `$1` limit. */
  readonly listFirst: Prepared;
  /** A page after a key: `$1` limit, `$2` scope, `$3` name. */
  readonly listAfter: Prepared;
  /** A fork by id: `$1` id. */
  readonly findFork: Prepared;
  /** Deletes ended forks: `$1` cut-off. */
  readonly pruneForks: Prepared;
}

/**
 * Builds the statements for a schema.
 *
 * @param schemaName - the schema, already validated as a plain identifier
 */
export function statementsFor(schemaName: string): Statements {
  const s = escapeIdentifier(schemaName);
  const liveForksOf = (v: string) =>
    `(SELECT json_agg(f.record ORDER BY f.id)::text FROM ${s}.forks f
      WHERE f.scope = ${v}.scope AND f.name = ${v}.name AND f.live)`;
  const claim = (where: string) =>
    `SELECT scope, name, record::text AS record, due_at::text AS due_at, has_intent FROM ${s}.volumes
     WHERE ${where} ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED`;
  const list = (where: string) =>
    `SELECT v.scope, v.name, v.record::text AS record, ${liveForksOf('v')} AS forks FROM ${s}.volumes v
     WHERE ${where} ORDER BY v.scope, v.name LIMIT $1`;
  return {
    schema: s,
    lockVolume: prepared(`SELECT record::text AS record, due_at::text AS due_at, has_intent FROM ${s}.volumes
      WHERE scope = $1 AND name = $2 FOR UPDATE`),
    insertPlaceholder: prepared(
      `INSERT INTO ${s}.volumes (scope, name) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1`,
    ),
    loadForks: prepared(`SELECT record::text AS record FROM ${s}.forks WHERE scope = $1 AND name = $2 AND live
      UNION ALL
      SELECT record::text FROM ${s}.forks WHERE id = ANY($3::text[]) AND scope = $1 AND name = $2 AND NOT live`),
    claimDue: prepared(claim('due_at <= $1')),
    claimForced: prepared(claim('(due_at <= $1 OR has_intent)')),
    loadLiveForksOf: prepared(`SELECT f.scope, f.name, f.record::text AS record FROM ${s}.forks f
      JOIN unnest($1::text[], $2::text[]) AS k(scope, name) ON f.scope = k.scope AND f.name = k.name
      WHERE f.live`),
    write: prepared(`WITH written_forks AS (
        INSERT INTO ${s}.forks AS f (id, scope, name, live, ended_at, record)
        SELECT x.id, x.scope, x.name, x.live, x.ended_at, x.record
        FROM jsonb_to_recordset($1::jsonb)
          AS x(id text, scope text, name text, live boolean, ended_at bigint, record jsonb)
        ON CONFLICT (id) DO UPDATE SET scope = excluded.scope, name = excluded.name, live = excluded.live,
          ended_at = excluded.ended_at, record = excluded.record
        RETURNING 1
      ), updated AS (
        UPDATE ${s}.volumes AS v SET record = x.record, due_at = x.due_at, has_intent = x.has_intent
        FROM jsonb_to_recordset($2::jsonb)
          AS x(scope text, name text, record jsonb, due_at bigint, has_intent boolean)
        WHERE v.scope = x.scope AND v.name = x.name
        RETURNING 1
      ), deleted AS (
        DELETE FROM ${s}.volumes AS v USING jsonb_to_recordset($3::jsonb) AS x(scope text, name text)
        WHERE v.scope = x.scope AND v.name = x.name
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM written_forks)::int AS forks, (SELECT count(*) FROM updated)::int AS updated,
        (SELECT count(*) FROM deleted)::int AS deleted`),
    read: prepared(`SELECT (SELECT record::text FROM ${s}.volumes WHERE scope = $1 AND name = $2) AS record,
      (SELECT json_agg(record ORDER BY id)::text FROM ${s}.forks
        WHERE scope = $1 AND name = $2 AND live) AS forks`),
    listFirst: prepared(list('v.record IS NOT NULL')),
    listAfter: prepared(list('v.record IS NOT NULL AND (v.scope, v.name) > ($2, $3)')),
    findFork: prepared(`SELECT record::text AS record FROM ${s}.forks WHERE id = $1`),
    pruneForks: prepared(`DELETE FROM ${s}.forks WHERE NOT live AND ended_at < $1`),
  };
}
