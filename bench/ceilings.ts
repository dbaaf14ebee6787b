// `pnpm bench ceilings`: the raw ceilings alone — JetStream publish, Postgres batch insert, HTTP POST
// — on a private nats-server, the test database and a local receiver. Every other benchmark measures
// these again in its own run; this one shows what the machine can do.
import { connect } from 'nats';
import { createTestPool, startHttpReceiver, startNatsServer } from '@switchyard/testing';
import { numberArg, rawHttpPostRate, rawJetStreamPublishRate, rawPostgresInsertRate, runBench, type BenchArgs } from './lib/mod.ts';

export default async function ceilings(args: BenchArgs): Promise<void> {
  const count = numberArg(args, 'events', 20_000);
  await runBench('ceilings', args, async (ctx) => {
    const nats = await startNatsServer();
    const nc = await connect({ servers: nats.url });
    const pool = await createTestPool();
    const receiver = await startHttpReceiver();
    try {
      ctx.log(`raw JetStream publish, ${count} messages`);
      const publish = await rawJetStreamPublishRate(nc, { count });
      ctx.log(`raw Postgres insert, ${count} rows`);
      const insert = await rawPostgresInsertRate(pool, { rows: count });
      ctx.log(`raw HTTP POST, ${Math.min(count, 10_000)} requests`);
      receiver.requests.length = 0;
      const post = await rawHttpPostRate(receiver.url, { count: Math.min(count, 10_000) });
      return { raw_jetstream_publish: publish, raw_postgres_insert: insert, raw_http_post: post };
    } finally {
      await receiver.close();
      await pool.end();
      await nc.close();
      await nats.stop();
    }
  });
}
