import type { JetStreamClient, KV } from 'nats';
import { isRecord } from './wa-readers.ts';

/** The NATS KV bucket holding one lease per instance and one heartbeat per live replica. */
export const LEASE_BUCKET = 'switchyard_capture_leases';

const LEASE_PREFIX = 'lease';
const REPLICA_PREFIX = 'replica';

export interface LeaseBucketOptions {
  /** Bucket name; tests use a random one. Default `switchyard_capture_leases`. */
  bucket?: string;
  /** The bucket's max_age: a lease or heartbeat not renewed within it vanishes. */
  ttlMs: number;
}

/**
 * Leases as compare-and-set entries of a KV bucket whose max_age is the lease TTL: `create`
 * succeeds only for a key nobody holds, `update` only with the revision the holder last wrote,
 * so a replica that was too slow to renew finds out rather than overwriting a new owner. An
 * entry nobody renews expires with the bucket's max_age, which is what frees a dead replica's
 * instances. (max_age on the bucket rather than per-key TTL: the nats.js v2 client has no API
 * for per-message TTL, and every key here wants the same lifetime.)
 */
export interface LeaseBucket {
  /** Takes the lease if nobody holds it; the revision to renew with, or undefined if held. */
  claim(tenant: string, instance: string, replicaId: string): Promise<number | undefined>;
  /** Renews a held lease; throws if it was lost (expired and possibly taken) or NATS failed. */
  renew(tenant: string, instance: string, replicaId: string, revision: number): Promise<number>;
  /** Gives a lease up (only if still ours at `revision`); errors are swallowed: it expires anyway. */
  release(tenant: string, instance: string, revision: number): Promise<void>;
  /** Every instance somebody holds, as `tenant/instance`. */
  held(): Promise<Set<string>>;
  heartbeat(replicaId: string): Promise<void>;
  retire(replicaId: string): Promise<void>;
  /** Replicas whose heartbeat has not expired (at least 1: the caller). */
  liveReplicas(): Promise<number>;
}

export async function openLeaseBucket(
  js: JetStreamClient,
  options: LeaseBucketOptions,
): Promise<LeaseBucket> {
  const kv: KV = await js.views.kv(options.bucket ?? LEASE_BUCKET, {
    history: 1,
    ttl: options.ttlMs,
  });
  const leaseKey = (tenant: string, instance: string): string =>
    `${LEASE_PREFIX}.${tenant}.${instance}`;
  const encode = (replicaId: string): Uint8Array =>
    new TextEncoder().encode(JSON.stringify({ replica: replicaId, at: new Date().toISOString() }));

  async function keys(prefix: string): Promise<string[]> {
    const out: string[] = [];
    for await (const key of await kv.keys(`${prefix}.>`)) out.push(key);
    return out;
  }

  return {
    async claim(tenant, instance, replicaId) {
      try {
        return await kv.create(leaseKey(tenant, instance), encode(replicaId));
      } catch (err) {
        if (isWrongLastSequence(err)) return undefined;
        throw err;
      }
    },
    renew: (tenant, instance, replicaId, revision) =>
      kv.update(leaseKey(tenant, instance), encode(replicaId), revision),
    async release(tenant, instance, revision) {
      await kv.delete(leaseKey(tenant, instance), { previousSeq: revision }).catch(() => undefined);
    },
    async held() {
      const out = new Set<string>();
      for (const key of await keys(LEASE_PREFIX)) {
        const [, tenant, instance] = key.split('.');
        if (tenant !== undefined && instance !== undefined) out.add(`${tenant}/${instance}`);
      }
      return out;
    },
    async heartbeat(replicaId) {
      await kv.put(`${REPLICA_PREFIX}.${replicaId}`, encode(replicaId));
    },
    async retire(replicaId) {
      await kv.delete(`${REPLICA_PREFIX}.${replicaId}`).catch(() => undefined);
    },
    async liveReplicas() {
      return Math.max(1, (await keys(REPLICA_PREFIX)).length);
    },
  };
}

/** JetStream's "wrong last sequence" (10071): the CAS write lost, somebody else holds the key. */
export function isWrongLastSequence(err: unknown): boolean {
  if (!isRecord(err)) return false;
  const apiError = err['api_error'];
  return isRecord(apiError) && apiError['err_code'] === 10071;
}
