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

  it('does not collide when parts shift boundaries', () => {
    expect(deriveEventId('ab', 'c')).not.toBe(deriveEventId('a', 'bc'));
    expect(deriveEventId('acme', 'x')).not.toBe(deriveEventId('acme2', 'x'));
  });
});
