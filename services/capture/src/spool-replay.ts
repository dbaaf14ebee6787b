import type { JetStreamClient } from 'nats';
import { forTenant, type Pool, type TenantQueryable } from '@switchyard/db';
import { publishEvent } from '@switchyard/nats';
import type { Logger } from '@switchyard/runtime';
import { ingestSubject } from '@switchyard/schema';
import type { CaptureMetrics } from './metrics.ts';
import { checkpointSpool, sequencedBytes, SPOOL_CONFLICT, spoolProgress, storeInOutbox } from './outbox.ts';
import { deadSpools, readSpoolPage, removeSpool, type SpoolFile, type SpoolRecord } from './spool.ts';

export interface ReplayOptions {
  maxBatch: number;
  logger: Logger;
  /** PubAck wait for the numbered run's publishes. Default 5s. */
  publishTimeoutMs?: number;
}

/**
 * Replays what a dead spool file holds past its `consumed` offset, in file order (the runs are
 * explained in the migration 000009):
 *
 * - the numbered run, `[consumed, numbered)`: events that were published without being stored,
 *   so perhaps never acknowledged. They are published again with the seqs they were given (the
 *   run's seqs are contiguous and end at `numbered_last_seq`) and their ids as `Nats-Msg-Id`:
 *   what INGEST already holds comes back as a duplicate. Then `consumed` moves to `numbered`.
 * - the rest, `[numbered, end)`: never numbered. Stored in the outbox a page at a time, each page
 *   in one statement that allocates its seqs and moves both offsets (compare-and-set: a
 *   concurrent replayer of the same file makes this one skip what the other stored).
 *
 * Returns how many events it published or stored.
 */
export async function replaySpool(
  db: TenantQueryable,
  js: JetStreamClient,
  file: SpoolFile,
  options: ReplayOptions,
): Promise<number> {
  let progress = await spoolProgress(db, file.instance, file.name);
  let replayed = 0;
  if (progress.numbered > progress.consumed) {
    replayed += await republishNumbered(js, file, progress, options);
    await checkpointSpool(db, file.instance, file.name, progress.numbered);
  }
  let from = progress.numbered;
  for (;;) {
    const { records, torn } = readSpoolPage(file.path, from, options.maxBatch);
    const last = records[records.length - 1];
    if (last === undefined) {
      // The process died inside its last write: that enqueue never returned, nothing was promised.
      if (torn) options.logger.warn({ spool: file.name, at: from }, 'spool ends in a torn record; ignored');
      return replayed;
    }
    const result = await storeInOutbox(
      db,
      file.instance,
      records.map((r) => r.entry),
      { spool: { spool: file.name, from, to: last.end } },
    );
    if (result === SPOOL_CONFLICT) {
      progress = await spoolProgress(db, file.instance, file.name);
      from = progress.numbered;
      continue;
    }
    from = last.end;
    replayed += records.length;
  }
}

/** Publishes the numbered run of `file` with its own seqs, all acknowledged before it returns. */
async function republishNumbered(
  js: JetStreamClient,
  file: SpoolFile,
  progress: { consumed: number; numbered: number; numberedLastSeq: number },
  options: ReplayOptions,
): Promise<number> {
  const run: SpoolRecord[] = [];
  for (let at = progress.consumed; at < progress.numbered; ) {
    const { records } = readSpoolPage(file.path, at, options.maxBatch);
    const inRun = records.filter((r) => r.end <= progress.numbered);
    if (inRun.length === 0) throw new Error(`spool ${file.name} ends before its numbered offset ${progress.numbered}`);
    run.push(...inRun);
    at = inRun[inRun.length - 1]!.end;
  }
  const firstSeq = progress.numberedLastSeq - run.length + 1;
  const window = 256;
  for (let i = 0; i < run.length; i += window) {
    await Promise.all(
      run.slice(i, i + window).map(({ entry }, j) =>
        publishEvent(js, ingestSubject(file.tenant, file.instance, entry.type), sequencedBytes({ ...entry, seq: firstSeq + i + j }), {
          msgId: entry.eventId,
          timeoutMs: options.publishTimeoutMs ?? 5_000,
        }),
      ),
    );
  }
  options.logger.warn(
    { tenant: file.tenant, instance: file.instance, spool: file.name, count: run.length, first_seq: firstSeq },
    'republished events that were numbered but maybe not acknowledged when their writer stopped',
  );
  return run.length;
}

/** Replays and deletes the dead spools of one instance (before its publisher writes anything). */
export async function replayInstanceSpools(
  db: TenantQueryable,
  js: JetStreamClient,
  dir: string,
  tenant: string,
  instance: string,
  options: ReplayOptions & { metrics: CaptureMetrics },
): Promise<number> {
  let total = 0;
  for (const file of deadSpools(dir, tenant, instance)) {
    const replayed = await replaySpool(db, js, file, options);
    removeSpool(file, dir);
    total += replayed;
    if (replayed > 0) {
      options.metrics.spoolReplayed.inc({ tenant, instance }, replayed);
      options.logger.warn({ tenant, instance, spool: file.name, replayed }, 'replayed spooled events');
    }
  }
  return total;
}

/**
 * At startup: replays every dead spool in `dir` of a tenant this deployment serves, whichever
 * replica now owns the instance. A numbered run goes back to INGEST with the seqs it already had;
 * the rest is numbered in Postgres and stored in the shared outbox, so storing it here is safe
 * wherever the session runs, and its owner relays it (at its start, or on noticing the seqs it
 * did not allocate). Leaving them for a session this replica may never run again would leave
 * them stranded on this disk. A spool of an unknown tenant is left alone.
 */
export async function recoverSpools(options: {
  dir: string;
  pool: Pool;
  js: JetStreamClient;
  tenants: readonly string[];
  logger: Logger;
  metrics: CaptureMetrics;
  maxBatch?: number;
  publishTimeoutMs?: number;
}): Promise<void> {
  const known = new Set(options.tenants);
  const done = new Set<string>();
  for (const file of deadSpools(options.dir)) {
    const key = `${file.tenant}/${file.instance}`;
    if (done.has(key)) continue;
    done.add(key);
    if (!known.has(file.tenant)) {
      options.logger.warn({ tenant: file.tenant, spool: file.path }, 'spool of a tenant not served here; left in place');
      continue;
    }
    try {
      await replayInstanceSpools(forTenant(options.pool, file.tenant), options.js, options.dir, file.tenant, file.instance, {
        maxBatch: options.maxBatch ?? 500,
        logger: options.logger,
        metrics: options.metrics,
        ...(options.publishTimeoutMs !== undefined ? { publishTimeoutMs: options.publishTimeoutMs } : {}),
      });
    } catch (err) {
      // Left on disk: the instance's publisher, or the next start, replays it.
      options.logger.error({ err, tenant: file.tenant, instance: file.instance }, 'spool replay failed');
    }
  }
}
