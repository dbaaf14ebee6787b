import { DiscardPolicy, nanos, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from 'nats';
import { STREAMS, STREAM_SUBJECTS, type StreamKind } from '@switchyard/schema';
import { isStreamNotFound } from './errors.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Name and captured subjects of one stream. */
export interface StreamIdentity {
  name: string;
  subjects: string[];
}

/**
 * The durability choices for Switchyard's streams, exported so the docs cite the code.
 *
 * - File storage: messages survive a server restart.
 * - JetStream acknowledges a publish once the message is written to the OS page cache, before
 *   fsync (the server syncs every `sync_interval`, 2 minutes by default). A power loss of a single
 *   node can therefore lose acknowledged messages. The knobs are `replicas` (R3 acknowledges only
 *   after a quorum holds the message, so one node's crash loses nothing) and the server-wide
 *   `jetstream { sync_interval: always }` (fsync per write, much slower). Production runs R3; a
 *   single-node deployment must set `sync_interval: always` if it wants zero loss across power cuts.
 * - Limits retention with no `max_bytes`/`max_msgs`: `discard: old` would silently evict unread
 *   messages when a byte limit is hit, which is loss. Only `max_age` ages messages out, and it is
 *   far longer than any consumer may lag (alert on consumer lag well before it).
 * - `duplicate_window`: publishes with the same `Nats-Msg-Id` (the event id) inside it are stored
 *   once, so capture and the outbox relay can retry publishes blindly.
 * - `allow_atomic`: publishers may send a run of messages as one atomic batch (see StreamSpec).
 */
export const STREAM_DEFAULTS = {
  storage: StorageType.File,
  retention: RetentionPolicy.Limits,
  discard: DiscardPolicy.Old,
  maxBytes: -1,
  maxMsgs: -1,
  maxAgeMs: { ingest: 7 * DAY_MS, events: 7 * DAY_MS, dlq: 30 * DAY_MS } satisfies Record<StreamKind, number>,
  duplicateWindowMs: 2 * 60 * 1000,
  replicas: 1,
  allowAtomic: true,
} as const;

/**
 * A stream's config as Switchyard applies it. `allow_atomic` (nats-server ≥ 2.12; older servers
 * ignore it) lets publishers store a run of messages as one atomic batch (atomic-batch.ts);
 * the nats.js 2.x types predate it.
 */
export type StreamSpec = Partial<StreamConfig> & StreamIdentity & { allow_atomic?: boolean };

export interface EnsureStreamsOptions {
  /** 1 for a single node; 3 in production clusters (see STREAM_DEFAULTS). */
  replicas?: number;
  maxAgeMs?: Partial<Record<StreamKind, number>>;
  duplicateWindowMs?: number;
  /**
   * Tests only: other names and subjects so each test gets private streams on a shared server.
   * Production always uses the schema package's STREAMS and STREAM_SUBJECTS.
   */
  streams?: Partial<Record<StreamKind, StreamIdentity>>;
}

export type EnsuredStreams = Record<StreamKind, StreamIdentity>;

/** The full config of one stream, as ensureStreams applies it. */
export function streamConfig(kind: StreamKind, options: EnsureStreamsOptions = {}): StreamSpec {
  const identity = options.streams?.[kind] ?? { name: STREAMS[kind], subjects: STREAM_SUBJECTS[kind] };
  return {
    name: identity.name,
    subjects: identity.subjects,
    storage: STREAM_DEFAULTS.storage,
    retention: STREAM_DEFAULTS.retention,
    discard: STREAM_DEFAULTS.discard,
    max_bytes: STREAM_DEFAULTS.maxBytes,
    max_msgs: STREAM_DEFAULTS.maxMsgs,
    max_age: nanos(options.maxAgeMs?.[kind] ?? STREAM_DEFAULTS.maxAgeMs[kind]),
    duplicate_window: nanos(options.duplicateWindowMs ?? STREAM_DEFAULTS.duplicateWindowMs),
    num_replicas: options.replicas ?? STREAM_DEFAULTS.replicas,
    allow_atomic: STREAM_DEFAULTS.allowAtomic,
  };
}

/**
 * Creates INGEST, EVENTS and DLQ, or updates them when their config drifted. It never deletes
 * or purges: an update that the server refuses (e.g. a storage change) fails loudly instead.
 */
export async function ensureStreams(jsm: JetStreamManager, options: EnsureStreamsOptions = {}): Promise<EnsuredStreams> {
  const kinds: StreamKind[] = ['ingest', 'events', 'dlq'];
  const result: Partial<EnsuredStreams> = {};
  for (const kind of kinds) {
    const config = streamConfig(kind, options);
    await ensureStream(jsm, config);
    result[kind] = { name: config.name, subjects: config.subjects };
  }
  return result as EnsuredStreams;
}

/** Adds one stream, or updates it if any field we manage differs. Idempotent. */
export async function ensureStream(jsm: JetStreamManager, config: StreamSpec): Promise<void> {
  let current: StreamConfig;
  try {
    current = (await jsm.streams.info(config.name)).config;
  } catch (err) {
    if (!isStreamNotFound(err)) throw err;
    await jsm.streams.add(config);
    return;
  }
  if (differs(current, config)) {
    // storage and retention are immutable; sending them makes the server reject a real change.
    const { name, storage: _storage, retention: _retention, ...update } = config;
    await jsm.streams.update(name, update);
  }
}

function differs(current: StreamConfig, wanted: Partial<StreamConfig>): boolean {
  for (const [key, value] of Object.entries(wanted)) {
    const have: unknown = current[key as keyof StreamConfig];
    if (JSON.stringify(have) !== JSON.stringify(value)) return true;
  }
  return false;
}
