import type { JetStreamClient } from 'nats';
import { openLeaseBucket as openKvLeaseBucket, type LeaseBucket } from '@switchyard/nats';

/** The NATS KV bucket holding one lease per instance and one heartbeat per live replica. */
export const LEASE_BUCKET = 'switchyard_capture_leases';

export type { LeaseBucket };

export interface LeaseBucketOptions {
  /** Bucket name; tests use a random one. Default `switchyard_capture_leases`. */
  bucket?: string;
  /** The bucket's max_age: a lease or heartbeat not renewed within it vanishes. */
  ttlMs: number;
}

/**
 * Capture's instance leases: the shared compare-and-set lease bucket of @switchyard/nats
 * (ownership.ts), keyed `<tenant>.<instance>` (`instanceLeaseKey`).
 */
export function openLeaseBucket(js: JetStreamClient, options: LeaseBucketOptions): Promise<LeaseBucket> {
  return openKvLeaseBucket(js, { bucket: options.bucket ?? LEASE_BUCKET, ttlMs: options.ttlMs });
}

/** An instance's lease key (KV key `lease.<tenant>.<instance>`, as before the shared module). */
export function instanceLeaseKey(tenant: string, instance: string): string {
  return `${tenant}.${instance}`;
}

/** The tenant and instance of a lease key; ids contain no dots, so the split is exact. */
export function parseInstanceLeaseKey(key: string): { tenant: string; instance: string } | undefined {
  const [tenant, instance, ...rest] = key.split('.');
  return tenant !== undefined && instance !== undefined && rest.length === 0 ? { tenant, instance } : undefined;
}
