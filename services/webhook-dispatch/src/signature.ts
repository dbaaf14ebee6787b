import { createHmac } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';

/**
 * The Standard Webhooks `webhook-signature` value: `v1,` + base64 HMAC-SHA256, keyed with the
 * secret's bytes (base64 after the `whsec_` prefix), over `<id>.<timestamp>.<body>`. The body is
 * signed as the exact bytes sent, so receivers can verify before parsing.
 */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: Uint8Array): string {
  const key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
  const mac = createHmac('sha256', key).update(`${id}.${timestampSeconds}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

/**
 * The header value while a secret rotates: one `v1,` signature per secret, space-separated,
 * current secret first. Standard Webhooks receivers accept the delivery if any one verifies, so
 * both the old and the new secret work during the overlap.
 */
export function signWebhookWithEach(secrets: readonly string[], id: string, timestampSeconds: number, body: Uint8Array): string {
  return secrets.map((secret) => signWebhook(secret, id, timestampSeconds, body)).join(' ');
}
