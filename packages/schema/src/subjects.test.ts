import { describe, expect, it } from 'vitest';
import {
  dlqSubject,
  durableName,
  eventsSubject,
  ingestSubject,
  isSubjectParseError,
  parseSubject,
  SYSTEM_TENANT,
  tenantFilterSubject,
  webhookDeliverySubject,
} from './subjects.ts';

describe('subject builders', () => {
  it('build the v1 layout', () => {
    expect(ingestSubject('acme', 'phone-1', 'message.received')).toBe('v1.ingest.acme.phone-1.message.received');
    expect(eventsSubject('acme', 'phone-1', 'session.qr')).toBe('v1.events.acme.phone-1.session.qr');
    expect(dlqSubject('acme')).toBe('v1.dlq.acme');
    expect(dlqSubject(SYSTEM_TENANT)).toBe('v1.dlq._system');
    expect(tenantFilterSubject('ingest', 'acme')).toBe('v1.ingest.acme.>');
    expect(tenantFilterSubject('dlq', 'acme')).toBe('v1.dlq.acme');
    expect(durableName('webhook-dispatch', 'acme')).toBe('webhook_dispatch_acme');
  });

  it('refuse ids and types that would break the subject', () => {
    expect(() => ingestSubject('ac.me', 'p', 'message.received')).toThrow();
    expect(() => ingestSubject('acme', 'p*', 'message.received')).toThrow();
    expect(() => ingestSubject('acme', 'p', 'message.>')).toThrow();
  });
});

describe('parseSubject', () => {
  it('parses what the builders build', () => {
    expect(parseSubject('v1.ingest.acme.phone-1.message.received')).toEqual({
      kind: 'ingest',
      tenant: 'acme',
      instance: 'phone-1',
      type: 'message.received',
    });
    expect(parseSubject('v1.dlq.acme')).toEqual({ kind: 'dlq', tenant: 'acme' });
    expect(parseSubject(webhookDeliverySubject('acme', 'ep_01ab', 'phone-1'))).toEqual({
      kind: 'webhooks',
      tenant: 'acme',
      endpoint: 'ep_01ab',
      instance: 'phone-1',
    });
  });

  it.each([
    ['v2.ingest.acme.p.message.received', 'NOT_V1'],
    ['v1.ingest.ACME.p.message.received', 'INVALID_TENANT'],
    ['v1.ingest.acme.P!.message.received', 'INVALID_INSTANCE'],
    ['v1.ingest.acme.p', 'INVALID_TYPE'],
    ['v1.webhooks.ACME.ep_1.p', 'INVALID_TENANT'],
    ['v1.webhooks.acme.ep_1.p.extra', 'INVALID_INSTANCE'],
  ])('reports %s as %s', (subject, error) => {
    const parsed = parseSubject(subject);
    expect(isSubjectParseError(parsed)).toBe(true);
    expect(parsed).toMatchObject({ error });
  });
});
