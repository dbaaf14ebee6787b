import { describe, expect, it } from 'vitest';
import { DeliveryLedger } from './delivery-ledger.ts';
import type { DeliveryResult } from './post-webhook.ts';

const ok = (endpointId: string): DeliveryResult => ({ endpointId, outcome: 'delivered', ok: true, status: 204, latencyMs: 5, responseBody: '', timestampSeconds: 1 });
const failed = (endpointId: string): DeliveryResult => ({
  endpointId,
  outcome: 'http_error',
  ok: false,
  status: 500,
  latencyMs: 7,
  responseBody: 'boom',
  error: 'HTTP 500',
  timestampSeconds: 1,
});
const at = new Date('2026-11-23T10:00:00.000Z');

describe('DeliveryLedger', () => {
  it('remembers successes and the attempt history per event until forgotten', () => {
    const ledger = new DeliveryLedger();
    ledger.record('evt-1', { service: 'webhook-dispatch', delivery: 1, at }, [ok('ep_a'), failed('ep_b')]);
    ledger.record('evt-1', { service: 'webhook-dispatch', delivery: 2, at }, [failed('ep_b')]);
    expect([...ledger.delivered('evt-1')]).toEqual(['ep_a']);
    expect(ledger.delivered('evt-2').size).toBe(0);
    expect(ledger.attempts('evt-1')).toEqual([
      { at: at.toISOString(), service: 'webhook-dispatch', delivery: 1, error: '', detail: { endpoint_id: 'ep_a', outcome: 'delivered', status: 204, latency_ms: 5, response_body: '' } },
      { at: at.toISOString(), service: 'webhook-dispatch', delivery: 1, error: 'HTTP 500', detail: { endpoint_id: 'ep_b', outcome: 'http_error', status: 500, latency_ms: 7, response_body: 'boom' } },
      { at: at.toISOString(), service: 'webhook-dispatch', delivery: 2, error: 'HTTP 500', detail: { endpoint_id: 'ep_b', outcome: 'http_error', status: 500, latency_ms: 7, response_body: 'boom' } },
    ]);
    ledger.forget('evt-1');
    expect(ledger.delivered('evt-1').size).toBe(0);
    expect(ledger.attempts('evt-1')).toEqual([]);
  });

  it('evicts the least recently touched event beyond its capacity', () => {
    const ledger = new DeliveryLedger(2);
    const attempt = { service: 'webhook-dispatch', delivery: 1, at };
    ledger.record('evt-1', attempt, [ok('ep')]);
    ledger.record('evt-2', attempt, [ok('ep')]);
    ledger.record('evt-1', attempt, [ok('ep2')]);
    ledger.record('evt-3', attempt, [ok('ep')]);
    expect(ledger.size).toBe(2);
    expect(ledger.delivered('evt-2').size).toBe(0);
    expect([...ledger.delivered('evt-1')]).toEqual(['ep', 'ep2']);
  });
});
