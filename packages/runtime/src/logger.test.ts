import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';
import { LogSink } from './test-log-sink.ts';

const SECRET_TEXT = 'meet me at the usual place';

describe('createLogger', () => {
  it('censors message bodies and secrets but keeps the correlation fields', () => {
    const sink = new LogSink();
    const logger = createLogger({ service: 'router', destination: sink });
    const child = logger.child({ tenant: 'acme', instance: 'phone-1', event_id: 'ev-1', subject: 'v1.events.acme' });
    child.info({ data: { text: SECRET_TEXT, raw: 'raw-bytes' } }, 'direct');
    child.info({ event: { id: 'ev-1', data: { text: SECRET_TEXT, kind: 'text' } } }, 'nested');
    child.info({ message: { data: { text: SECRET_TEXT } } }, 'wildcard');
    child.info({ body: SECRET_TEXT, payload: SECRET_TEXT, secret: 's3cr3t', apiKey: 'sk_live' }, 'top');
    child.warn({ req: { headers: { authorization: 'Bearer sk_live', 'x-api-key': 'sk_live', accept: 'json' } } }, 'hdr');

    expect(sink.text).not.toContain(SECRET_TEXT);
    expect(sink.text).not.toContain('raw-bytes');
    expect(sink.text).not.toContain('s3cr3t');
    expect(sink.text).not.toContain('sk_live');
    const [first, second, , , fifth] = sink.records;
    expect(first).toMatchObject({
      service: 'router',
      tenant: 'acme',
      instance: 'phone-1',
      event_id: 'ev-1',
      subject: 'v1.events.acme',
      data: { text: '[redacted]' },
    });
    expect(second).toMatchObject({ event: { id: 'ev-1', data: { kind: 'text' } } });
    expect(fifth).toMatchObject({ req: { headers: { accept: 'json' } } });
    expect(typeof first?.time).toBe('string');
    expect(new Date(first?.time as string).toISOString()).toBe(first?.time);
  });

  it('respects the level', () => {
    const sink = new LogSink();
    const logger = createLogger({ service: 'x', level: 'warn', destination: sink });
    logger.info('hidden');
    logger.warn('shown');
    expect(sink.records.map((record) => record.msg)).toEqual(['shown']);
  });
});
