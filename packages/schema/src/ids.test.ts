import { describe, expect, it } from 'vitest';
import { assertTenantId, deriveEventId, InvalidIdError, isValidTenantId } from './ids.ts';

describe('tenant ids', () => {
  it.each(['acme', 'a', 'tenant_1', 'a-b-c', '0abc', 'a'.repeat(63)])('accepts %s', (id) => {
    expect(isValidTenantId(id)).toBe(true);
  });

  it.each(['', 'Acme', '_system', '-a', 'a.b', 'a b', '../x', 'a"; drop', 'a'.repeat(64), 'ä'])('refuses %j', (id) => {
    expect(isValidTenantId(id)).toBe(false);
    expect(() => assertTenantId(id)).toThrow(InvalidIdError);
  });
});

describe('deriveEventId', () => {
  it('is deterministic and shaped like a UUIDv8', () => {
    const a = deriveEventId('acme', 'phone-1', 'message', 'ABC');
    expect(deriveEventId('acme', 'phone-1', 'message', 'ABC')).toBe(a);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('never changes: ids already stored must be derived again identically', () => {
    // Computed by the first implementation (one hash.update per part); any rewrite must match.
    expect(deriveEventId('acme', 'phone-1', 'message', '5511999999999@s.whatsapp.net', '3EB0C767D26A8B2A7E5B', 'false')).toBe(
      '2c708ded-3751-846f-888c-3b33a29c9a97',
    );
  });

  it('does not collide when parts shift boundaries', () => {
    expect(deriveEventId('ab', 'c')).not.toBe(deriveEventId('a', 'bc'));
    expect(deriveEventId('acme', 'x')).not.toBe(deriveEventId('acme2', 'x'));
  });
});
