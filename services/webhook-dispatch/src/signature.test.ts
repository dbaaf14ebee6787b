import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { signWebhook } from './signature.ts';

describe('signWebhook', () => {
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const body = '{"id":"evt-1","text":"olá 👋"}';
  const now = Math.floor(Date.now() / 1000);

  it('produces a signature the reference Standard Webhooks library verifies', () => {
    const signature = signWebhook(secret, 'evt-1', now, new TextEncoder().encode(body));
    const headers = { 'webhook-id': 'evt-1', 'webhook-timestamp': String(now), 'webhook-signature': signature };
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('matches what the reference library signs', () => {
    expect(signWebhook(secret, 'evt-1', now, new TextEncoder().encode(body))).toBe(new Webhook(secret).sign('evt-1', new Date(now * 1000), body));
  });

  it('does not verify under another id, timestamp, body or secret', () => {
    const signature = signWebhook(secret, 'evt-1', now, new TextEncoder().encode(body));
    const verify = (overrides: Record<string, string>, payload = body, key = secret) =>
      new Webhook(key).verify(payload, { 'webhook-id': 'evt-1', 'webhook-timestamp': String(now), 'webhook-signature': signature, ...overrides });
    expect(() => verify({ 'webhook-id': 'evt-2' })).toThrow();
    expect(() => verify({ 'webhook-timestamp': String(now + 1) })).toThrow();
    expect(() => verify({}, body.replace('1', '2'))).toThrow();
    expect(() => verify({}, body, `whsec_${randomBytes(24).toString('base64')}`)).toThrow();
  });
});
