import { hash, randomUUID } from 'node:crypto';
import { z } from 'zod';

/** Tenant and instance ids: validated once at every edge, then trusted. */
export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const INSTANCE_ID_PATTERN = TENANT_ID_PATTERN;

export const tenantIdSchema = z
  .string()
  .regex(TENANT_ID_PATTERN, 'tenant id must match ^[a-z0-9][a-z0-9_-]{0,62}$');
export const instanceIdSchema = z
  .string()
  .regex(INSTANCE_ID_PATTERN, 'instance id must match ^[a-z0-9][a-z0-9_-]{0,62}$');

/** Event ids travel as Nats-Msg-Id, primary keys and webhook-id: keep them header- and URL-safe. */
export const EVENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
export const eventIdSchema = z
  .string()
  .regex(EVENT_ID_PATTERN, 'event id must be 1-128 chars of [A-Za-z0-9_.:-]');

export function isValidTenantId(value: string): boolean {
  return TENANT_ID_PATTERN.test(value);
}

export function isValidInstanceId(value: string): boolean {
  return INSTANCE_ID_PATTERN.test(value);
}

/** Thrown when an id from outside does not match its pattern. Never retryable. */
export class InvalidIdError extends Error {
  override name = 'InvalidIdError';
  readonly nonRetryable = true;
  constructor(kind: 'tenant' | 'instance' | 'event', value: string) {
    super(`invalid ${kind} id ${JSON.stringify(value.slice(0, 80))}`);
  }
}

export function assertTenantId(value: string): string {
  if (!isValidTenantId(value)) throw new InvalidIdError('tenant', value);
  return value;
}

export function assertInstanceId(value: string): string {
  if (!isValidInstanceId(value)) throw new InvalidIdError('instance', value);
  return value;
}

/**
 * Deterministic id for an event derived from its source: the same WhatsApp message captured twice
 * (redelivery, re-capture after a restart, another replica) yields the same id, so duplicates are
 * removed by primary key rather than by a cache that could drop a real message.
 * Formatted as an RFC 9562 UUIDv8 over SHA-256 of the parts.
 */
export function deriveEventId(...parts: readonly string[]): string {
  // Length-prefix each part so ("ab","c") and ("a","bc") never collide. One string and one
  // one-shot hash: capture derives an id per WhatsApp event, so this is on its hot path.
  let input = '';
  for (const part of parts) input += `${part.length}:${part};`;
  const bytes = hash('sha256', input, 'buffer');
  bytes[6] = (bytes[6]! & 0x0f) | 0x80; // version 8
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const hex = bytes.toString('hex', 0, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Id for an event with no natural source key (tenant-side tooling, tests). */
export function newEventId(): string {
  return randomUUID();
}
