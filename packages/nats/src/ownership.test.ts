import { afterEach, describe, expect, it } from 'vitest';
import { openLeaseBucket, partitionOf, startLeaseOwnership, startOwnership, type LeaseBucket, type PartitionOwnership, type ReleaseReason } from './ownership.ts';
import { randomHex, testLogger, testNats, waitFor, type TestNats } from './test-support.ts';

const TTL = 1_000;
const FAST = { ttlMs: TTL, claimIntervalMs: 100, rebalanceIntervalMs: 100 };

describe('partitionOf', () => {
  it('is stable and spreads names over the partitions', () => {
    // Fixed values: a change of hash would move every tenant to another owner on upgrade.
    expect(partitionOf('acme', 64)).toBe(partitionOf('acme', 64));
    expect([partitionOf('acme', 64), partitionOf('globex', 64), partitionOf('initech', 64)]).toEqual([47, 14, 33]);
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 1600; i++) counts[partitionOf(`tenant-${i}`, 16)]!++;
    expect(Math.min(...counts)).toBeGreaterThan(60);
    expect(Math.max(...counts)).toBeLessThan(140);
  });
});

describe('partition ownership', () => {
  let t: TestNats | undefined;
  const running: PartitionOwnership[] = [];

  afterEach(async () => {
    for (const o of running.splice(0)) await o.stop();
    if (t !== undefined) await t.jsm.streams.delete(`KV_${bucketName}`).catch(() => false);
    await t?.close();
    t = undefined;
  });

  let bucketName = '';
  async function owner(n: TestNats, replicaId: string, log: string[]): Promise<PartitionOwnership> {
    const o = await startOwnership({
      js: n.js,
      bucket: bucketName,
      name: 'test',
      partitions: 8,
      replicaId,
      ...FAST,
      rebalanceStep: 1,
      logger: testLogger,
      onAcquire: (p, { handedOver }) => void log.push(`${replicaId}+${p}${handedOver ? ':handed-over' : ''}`),
      onRelease: (p, reason) => void log.push(`${replicaId}-${p}:${reason}`),
    });
    running.push(o);
    return o;
  }

  /** Replica a owning all 8 partitions, then b started beside it, on a fresh bucket. */
  async function aThenB(): Promise<{ a: PartitionOwnership; b: PartitionOwnership; log: string[] }> {
    t = await testNats();
    bucketName = `own_${randomHex()}`;
    const log: string[] = [];
    const a = await owner(t, 'a', log);
    await waitFor(() => a.owned().length === 8, 10_000, 'a owns all');
    return { a, b: await owner(t, 'b', log), log };
  }

  it('never lets two replicas own one partition, converges to fair shares, and moves a drained replica’s partitions at once', async () => {
    const { a, b, log } = await aThenB();
    let overlaps = 0;
    const sampler = setInterval(() => {
      for (let p = 0; p < 8; p++) if (a.owns(p) && b.owns(p)) overlaps++;
    }, 5);
    try {
      await waitFor(() => a.owned().length === 4 && b.owned().length === 4, 15_000, 'fair shares');
      // Hand-overs are gradual and each is a release by a, then a claim by b.
      expect(log.filter((l) => l.startsWith('a-')).every((l) => l.endsWith(':rebalanced'))).toBe(true);

      const drained = Date.now();
      await a.stop();
      await waitFor(() => b.owned().length === 8, 5_000, 'b takes over');
      // Released leases are claimed on the next round, long before a TTL.
      expect(Date.now() - drained).toBeLessThan(TTL);
      // Every partition b got came from a release (rebalanced or drained), and b knows it.
      const acquired = log.filter((l) => l.startsWith('b+'));
      expect(acquired).toHaveLength(8);
      expect(acquired.every((l) => l.endsWith(':handed-over'))).toBe(true);
      expect(['t0', 't1', 't2', 't3'].every((name) => b.handedOverName(name))).toBe(true);
    } finally {
      clearInterval(sampler);
    }
    expect(overlaps).toBe(0);
  });

  it('lets a dead replica’s partitions go only after its lease expired', async () => {
    const { a, b, log } = await aThenB();
    const died = Date.now();
    const leftByA = a.owned();
    await a.abandon();
    expect(log.filter((l) => l.startsWith('a-'))).toHaveLength(8);
    await waitFor(() => b.owned().length === 8, 10_000, 'b takes over');
    // Nothing released them: b had to wait for the leases to expire.
    expect(Date.now() - died).toBeGreaterThanOrEqual(TTL / 2);
    // A lease that expired was not handed over: whoever claims it must fence what a left behind.
    const fromDeadA = log.filter((l) => leftByA.some((p) => l.startsWith(`b+${p}`)));
    expect(fromDeadA).toHaveLength(leftByA.length);
    expect(fromDeadA.some((l) => l.endsWith(':handed-over'))).toBe(false);
  });
});

describe('lease ownership safety', () => {
  let t: TestNats | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('stops a holder whose renewals hang before another replica can claim its key', async () => {
    t = await testNats();
    const bucket = `own_${randomHex()}`;
    const leases = await openLeaseBucket(t.js, { bucket, ttlMs: TTL });
    let hang = false;
    // The holder's writes (renewals, claims, heartbeats) stop reaching NATS, as in a network partition.
    const flaky: LeaseBucket = {
      ...leases,
      claim: (key, holder) => (hang ? new Promise<undefined>(() => undefined) : leases.claim(key, holder)),
      renew: (key, holder, revision) => (hang ? new Promise<number>(() => undefined) : leases.renew(key, holder, revision)),
      heartbeat: (id) => (hang ? new Promise<void>(() => undefined) : leases.heartbeat(id)),
    };
    const events: { who: string; what: string; at: number }[] = [];
    const track = (who: string) => ({
      onAcquire: (key: string) => void events.push({ who, what: `+${key}`, at: Date.now() }),
      onRelease: (key: string, reason: ReleaseReason) => void events.push({ who, what: `-${key}:${reason}`, at: Date.now() }),
    });
    const a = startLeaseOwnership({ leases: flaky, replicaId: 'a', candidates: () => ['k'], ...FAST, logger: testLogger, ...track('a') });
    await waitFor(() => a.owns('k'), 5_000, 'a holds k');
    const b = startLeaseOwnership({ leases, replicaId: 'b', candidates: () => ['k'], ...FAST, logger: testLogger, ...track('b') });
    try {
      hang = true;
      await waitFor(() => b.owns('k'), 10_000, 'b claims k');
      const lost = events.find((e) => e.who === 'a' && e.what === '-k:lost');
      const claimed = events.find((e) => e.who === 'b' && e.what === '+k');
      expect(lost).toBeDefined();
      expect(claimed).toBeDefined();
      expect(lost!.at).toBeLessThan(claimed!.at);
      expect(a.owns('k')).toBe(false);
    } finally {
      await a.abandon();
      await b.stop();
      await t.jsm.streams.delete(`KV_${bucket}`).catch(() => false);
    }
  });
});

describe('lease bucket', () => {
  it('answers while the entries it lists expire (kv.keys() hung when the last ones did)', async () => {
    const t = await testNats();
    const bucket = `own_${randomHex()}`;
    try {
      const leases = await openLeaseBucket(t.js, { bucket, ttlMs: 100 });
      let listings = 0;
      for (let round = 0; round < 15; round++) {
        await Promise.all(Array.from({ length: 20 }, (_, i) => leases.heartbeat(`r${round}-${i}`)));
        // List back to back until all of them expired: some listing starts while they go.
        for (let seen = 20; seen > 1; listings++) {
          // A real hang is for ever; 10 s only keeps a loaded machine from reading as one.
          const listed = await Promise.race([leases.liveReplicas(), new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 10_000))]);
          if (listed === 'hung') throw new Error(`listing hung in round ${round}`);
          // This round's 20 and at most one the last round left (it ended at "1 or fewer").
          expect(listed).toBeLessThanOrEqual(21);
          seen = listed;
        }
      }
      expect(listings).toBeGreaterThan(15);
    } finally {
      await t.jsm.streams.delete(`KV_${bucket}`).catch(() => false);
      await t.close();
    }
  });

  it('does not trust a hand-over mark it could not erase, and says a lease or heartbeat it could not erase was not', async () => {
    const t = await testNats();
    const bucket = `own_${randomHex()}`;
    try {
      const leases = await openLeaseBucket(t.js, { bucket, ttlMs: 5_000 });
      // A mark read and erased is trusted once.
      await leases.markHandedOver('p0', 'a');
      expect(await leases.takeHandover('p0')).toBe(true);
      expect(await leases.takeHandover('p0')).toBe(false);
      const held = await leases.claim('p1', 'a');
      expect(held).toBeDefined();
      await leases.heartbeat('r1');
      expect(await leases.retire('r1')).toBe(true);
      await leases.heartbeat('r2');

      // The bucket's stream now refuses deletes: nothing can be erased.
      const info = await t.jsm.streams.info(`KV_${bucket}`);
      await t.jsm.streams.update(`KV_${bucket}`, { ...info.config, deny_delete: true });
      await leases.markHandedOver('p2', 'a');
      // Left in place, the mark could let a later claimant skip its fence: it is not trusted now.
      expect(await leases.takeHandover('p2')).toBe(false);
      expect(await leases.release('p1', held!)).toBe(false);
      expect(await leases.retire('r2')).toBe(false);
      expect([...(await leases.held())]).toEqual(['p1']);
    } finally {
      await t.jsm.streams.delete(`KV_${bucket}`).catch(() => false);
      await t.close();
    }
  });
});
