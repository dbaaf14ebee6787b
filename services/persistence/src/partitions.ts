import type { TenantDb, TenantQueryable } from '@switchyard/db';

/**
 * The events log is range-partitioned by month on occurred_at: `events_pYYYYMM` holds
 * [first of the month, first of the next) in UTC. Months are coarse enough that a history sync
 * reaching years back makes tens of partitions, not thousands, and fine enough that retention
 * keeps at most a month more than asked.
 */
export interface MonthPartition {
  /** e.g. `events_p202601`; a bare (unquoted) table name in the tenant schema. */
  name: string;
  from: Date;
  to: Date;
}

const NAME = /^events_p(\d{4})(\d{2})$/;

export function partitionFor(at: Date): MonthPartition {
  const year = at.getUTCFullYear();
  const month = at.getUTCMonth();
  return {
    name: `events_p${String(year).padStart(4, '0')}${String(month + 1).padStart(2, '0')}`,
    from: new Date(Date.UTC(year, month, 1)),
    to: new Date(Date.UTC(year, month + 1, 1)),
  };
}

/** The partition a name stands for, or null for anything else (e.g. `events_default`). */
export function parsePartitionName(name: string): MonthPartition | null {
  const match = NAME.exec(name);
  if (match?.[1] === undefined || match[2] === undefined) return null;
  return partitionFor(new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, 1)));
}

/** This month and the `ahead` months after it. */
export function partitionsAhead(now: Date, ahead: number): MonthPartition[] {
  return Array.from({ length: ahead + 1 }, (_, i) => partitionFor(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1))));
}

/** The monthly partitions that exist in the tenant's schema, oldest first. */
export async function listPartitions(db: TenantQueryable): Promise<MonthPartition[]> {
  const result = await db.query<{ name: string }>(
    `SELECT c.relname AS name
       FROM pg_catalog.pg_inherits i
       JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = ':SCHEMA.events'::regclass`,
  );
  return result.rows
    .map((row) => parsePartitionName(row.name))
    .filter((p): p is MonthPartition => p !== null)
    .sort((a, b) => a.from.getTime() - b.from.getTime());
}

/**
 * Creates the partitions that do not exist yet. Each is created in its own statement outside
 * the batch's transaction, so a batch never holds the parent's lock; IF NOT EXISTS and the
 * duplicate-object retry make concurrent replicas harmless. A month whose rows already sit in
 * events_default (stored while it had no partition: retention dropped it a moment before) is
 * created with those rows moved into it (`createMovingDefaultRows`).
 */
export async function ensurePartitions(db: TenantDb, partitions: readonly MonthPartition[], known?: KnownPartitions): Promise<string[]> {
  const created: string[] = [];
  const unsure = known ? known.unsure(db.tenant, partitions) : partitions;
  if (unsure.length === 0) return created;
  for (const p of await missingPartitions(db, unsure)) {
    try {
      await db.query(
        `CREATE TABLE IF NOT EXISTS ${partitionTable(p)}
           PARTITION OF :SCHEMA.events FOR VALUES FROM ('${p.from.toISOString()}') TO ('${p.to.toISOString()}')`,
      );
      created.push(p.name);
    } catch (err) {
      // 42P07: another replica created it between our check and CREATE.
      if (isDuplicate(err)) continue;
      if (!isDefaultHoldingRows(err)) throw err;
      await createMovingDefaultRows(db, p);
      created.push(p.name);
    }
  }
  known?.remember(db.tenant, unsure);
  return created;
}

/**
 * The months one consumer has seen exist, so that its batches skip the catalogue query for them
 * (one round trip per batch, ~7% of persistence's CPU at 1,000 events/s, and Postgres's
 * parse and plan of it). A month is trusted only until it ends, because retention drops only
 * months that ended (`applyRetention`), and for at most `ttlMs` after it was checked, which
 * bounds how long a month that disappeared some other way (a tenant deleted and made again) goes
 * unnoticed: its rows wait in events_default meanwhile, and the next check moves them into it.
 */
export class KnownPartitions {
  readonly #until = new Map<string, number>();

  constructor(
    private readonly ttlMs = 10 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Of `partitions`, those not known to exist now. */
  unsure(tenant: string, partitions: readonly MonthPartition[]): MonthPartition[] {
    const now = this.now();
    return partitions.filter((p) => (this.#until.get(`${tenant}\u0000${p.name}`) ?? 0) <= now);
  }

  /** `partitions` exist now (checked or created). */
  remember(tenant: string, partitions: readonly MonthPartition[]): void {
    const now = this.now();
    if (this.#until.size >= 10_000) for (const [key, until] of this.#until) if (until <= now) this.#until.delete(key);
    for (const p of partitions) {
      const until = Math.min(p.to.getTime(), now + this.ttlMs);
      if (until > now) this.#until.set(`${tenant}\u0000${p.name}`, until);
    }
  }
}

/** Of `partitions`, those with no table: one catalogue query for all of them. */
async function missingPartitions(db: TenantDb, partitions: readonly MonthPartition[]): Promise<MonthPartition[]> {
  if (partitions.length === 0) return [];
  const rows = partitions.map((p, i) => `(${i}, to_regclass('${partitionTable(p)}'))`).join(', ');
  const result = await db.query<{ i: number }>(`SELECT i FROM (VALUES ${rows}) AS x(i, reg) WHERE reg IS NULL`);
  return result.rows.map((row) => partitions[row.i]!);
}

/**
 * Creates month `p` although events_default holds rows of it, which Postgres refuses to do in
 * place: in one transaction, the default partition is detached, the month created, its rows
 * moved from the old default into it, and the default attached again. The events table is locked
 * meanwhile (a batch waits); it only happens to a month stored while it had no partition.
 */
async function createMovingDefaultRows(db: TenantDb, p: MonthPartition): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('ALTER TABLE :SCHEMA.events DETACH PARTITION :SCHEMA.events_default');
    await tx.query(
      `CREATE TABLE IF NOT EXISTS ${partitionTable(p)}
         PARTITION OF :SCHEMA.events FOR VALUES FROM ('${p.from.toISOString()}') TO ('${p.to.toISOString()}')`,
    );
    await tx.query(
      `WITH moved AS (
         DELETE FROM :SCHEMA.events_default WHERE occurred_at >= $1 AND occurred_at < $2 RETURNING *
       )
       INSERT INTO :SCHEMA.events SELECT * FROM moved`,
      [p.from, p.to],
    );
    await tx.query('ALTER TABLE :SCHEMA.events ATTACH PARTITION :SCHEMA.events_default DEFAULT');
  });
}

/** The partition's qualified name; its name only ever comes from `partitionFor`, digits and all. */
export function partitionTable(p: MonthPartition): string {
  if (!NAME.test(p.name)) throw new Error(`not a partition name: ${p.name}`);
  return `:SCHEMA."${p.name}"`;
}

/** 23514 on CREATE … PARTITION OF: the default partition holds rows of the new range. */
function isDefaultHoldingRows(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && err.code === '23514';
}

function isDuplicate(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && (err.code === '42P07' || err.code === '23505');
}
