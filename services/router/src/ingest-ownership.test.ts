import { describe, expect, it } from 'vitest';
import { SYSTEM_TENANT } from '@switchyard/schema';
import {
  classifyIngestSubject,
  historyFilter,
  ingestLayoutFor,
  realtimeFilters,
} from './ingest-ownership.ts';

describe('INGEST ownership', () => {
  it('leaves every realtime and history subject of a valid tenant to its durables', () => {
    expect(classifyIngestSubject('v1.ingest.acme.phone-1.message.received')).toBeUndefined();
    expect(
      classifyIngestSubject('v1.ingest.acme.phone-1.group.participants_added'),
    ).toBeUndefined();
    expect(classifyIngestSubject('v1.ingest.acme.phone-1.history.messages')).toBeUndefined();
    // A known category with an unknown type is the router's to judge (UNKNOWN_TYPE with the bytes).
    expect(classifyIngestSubject('v1.ingest.acme.phone-1.message.exploded')).toBeUndefined();
  });

  it("sends subjects without a valid tenant to _system and a tenant's unreadable subjects to the tenant", () => {
    expect(classifyIngestSubject('v1.ingest.Acme.phone-1.message.received')).toMatchObject({
      tenant: SYSTEM_TENANT,
      reason: 'INVALID_SUBJECT',
    });
    expect(classifyIngestSubject('v1.ingest._system.phone-1.message.received')).toMatchObject({
      tenant: SYSTEM_TENANT,
      reason: 'INVALID_SUBJECT',
    });
    expect(classifyIngestSubject('v1.ingest.acme.phone-1')).toMatchObject({
      tenant: 'acme',
      reason: 'INVALID_SUBJECT',
    });
    expect(classifyIngestSubject('v1.ingest.acme.phone-1.weird.thing')).toMatchObject({
      tenant: 'acme',
      reason: 'UNKNOWN_TYPE',
    });
    expect(classifyIngestSubject('v1.ingest.acme.phone-1.message')).toMatchObject({
      tenant: 'acme',
      reason: 'UNKNOWN_TYPE',
    });
  });

  it('splits realtime and history filters without overlap', () => {
    const realtime = realtimeFilters('acme');
    expect(realtime).toContain('v1.ingest.acme.*.message.>');
    expect(realtime.some((f) => f.includes('.history.'))).toBe(false);
    expect(historyFilter('acme')).toBe('v1.ingest.acme.*.history.>');
  });

  it('falls back to one durable per tenant on servers without filter lists', () => {
    expect(ingestLayoutFor('2.9.10')).toBe('single');
    expect(ingestLayoutFor('2.10.0')).toBe('split');
    expect(ingestLayoutFor('2.12.15')).toBe('split');
    expect(classifyIngestSubject('v1.ingest.acme.phone-1.weird.thing', 'single')).toBeUndefined();
    expect(classifyIngestSubject('v1.ingest.acme.x', 'single')).toBeUndefined();
    expect(classifyIngestSubject('v1.ingest.Acme.x.y.z', 'single')).toMatchObject({
      tenant: SYSTEM_TENANT,
    });
  });
});
