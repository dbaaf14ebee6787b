import { beforeAll, describe, expect, it } from 'vitest';
import { ensureDurableConsumer } from './consumers.ts';
import { ownNatsServer, randomHex, type TestNats } from './test-support.ts';

describe('ensureDurableConsumer with a filter list', () => {
  // Filter lists need NATS ≥ 2.10; the shared test server may be older, so start a current one.
  const own = ownNatsServer();
  let t: TestNats;
  beforeAll(() => {
    t = own();
  });

  it('moves a durable from one filter to a filter list and back, in place', async () => {
    const durable = `filters_${randomHex()}`;
    const stream = t.streams.ingest.name;
    const single = t.ingestFilter('acme');
    const list = [`${t.prefix}.ingest.acme.*.message.>`, `${t.prefix}.ingest.acme.*.chat.>`];

    await ensureDurableConsumer(t.jsm, { stream, durable, filterSubject: single });
    const multi = await ensureDurableConsumer(t.jsm, {
      stream,
      durable,
      filterSubject: single,
      filterSubjects: list,
    });
    expect(multi.config.filter_subjects).toEqual(list);
    expect(multi.config.filter_subject ?? '').toBe('');

    const back = await ensureDurableConsumer(t.jsm, { stream, durable, filterSubject: single });
    expect(back.config.filter_subject).toBe(single);
    expect(back.config.filter_subjects ?? []).toEqual([]);
  });
});
