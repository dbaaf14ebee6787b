import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ephemeralFloor, freePort } from './ports.ts';

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('freePort', () => {
  it('answers ports below the ephemeral range that a server can listen on', async () => {
    const floor = await ephemeralFloor();
    const ports = [];
    for (let i = 0; i < 20; i++) ports.push(await freePort());
    // Outgoing connections take their local ports from the ephemeral range: none of these can be
    // taken by one between the pick and the listen.
    expect(ports.every((port) => port >= 10_000 && port < floor)).toBe(true);
    const servers = await Promise.all([...new Set(ports)].map(listen));
    expect(servers.length).toBeGreaterThan(1);
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  });
});
