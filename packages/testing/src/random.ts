import { randomBytes } from 'node:crypto';

/** A tenant id that matches the tenant pattern and never collides between test files. */
export function randomTenantId(prefix = 't'): string {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

/** A random lowercase name for streams, buckets and schemas created by a test. */
export function randomName(prefix = 'test'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}
