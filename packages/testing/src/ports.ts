import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';

/** Where ports are picked when the kernel's ephemeral range cannot be read (Linux's default floor). */
const DEFAULT_EPHEMERAL_FLOOR = 32_768;
/** The lowest port picked: above the registered services most machines run. */
const PICK_FLOOR = 10_000;

/**
 * A port nothing listens on now, chosen below the kernel's ephemeral range. A port from that
 * range (what listening on port 0 hands out) can be taken by any outgoing connection — a
 * service's connection to NATS or Postgres — between the moment it was found free and the moment
 * the server meant for it listens, or, worse, while that server is down for a restart: then it
 * fails with EADDRINUSE at every restart for as long as the connection lives. Falls back to an
 * ephemeral port if no port below the range is free after a few tries.
 */
export async function freePort(): Promise<number> {
  const ceiling = (await ephemeralFloor()) - 1;
  for (let attempt = 0; attempt < 50 && ceiling - PICK_FLOOR > 1_000; attempt++) {
    const port = PICK_FLOOR + Math.floor(Math.random() * (ceiling - PICK_FLOOR));
    if ((await listenOnce(port)) !== undefined) return port;
  }
  const port = await listenOnce(0);
  if (port === undefined) throw new Error('could not allocate a free port');
  return port;
}

/** The first port of the kernel's ephemeral range (Linux's default when it cannot be read). */
export async function ephemeralFloor(): Promise<number> {
  const range = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '');
  const floor = Number.parseInt(range.trim().split(/\s+/)[0] ?? '', 10);
  return Number.isInteger(floor) && floor > PICK_FLOOR ? floor : DEFAULT_EPHEMERAL_FLOOR;
}

/** Listens on `port` (0 lets the kernel choose) on loopback and closes again: the port it got, or undefined if taken. */
function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(address !== null && typeof address === 'object' ? address.port : undefined));
    });
  });
}
