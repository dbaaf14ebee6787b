import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';

export interface Receipt {
  /** Deliveries of this webhook-id (retries and redeliveries count; the event is one). */
  count: number;
  /** Date.now() of the first delivery. */
  firstAt: number;
  path: string;
}

export interface CountingReceiver {
  readonly url: string;
  readonly port: number;
  /** By webhook-id. */
  readonly receipts: ReadonlyMap<string, Receipt>;
  /** Requests answered, duplicates included. */
  total(): number;
  /** Stops listening and drops open connections: the endpoint is unreachable until `up()`. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A webhook endpoint that is as cheap as possible — node:http, no body kept — so the benchmark
 * measures webhook-dispatch rather than the receiver. It dedupes by `webhook-id` (the event id)
 * and counts, which is what "received at least once" means in the chaos suite.
 */
export async function startCountingReceiver(port = 0): Promise<CountingReceiver> {
  const receipts = new Map<string, Receipt>();
  let total = 0;
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let boundPort = port;

  const listen = async (): Promise<void> => {
    const next = createServer((req, res) => {
      // Drain the body without keeping it: the id in the header is all the count needs.
      req.resume();
      req.on('end', () => {
        const id = req.headers['webhook-id'];
        if (typeof id === 'string') {
          const seen = receipts.get(id);
          if (seen) seen.count++;
          else receipts.set(id, { count: 1, firstAt: Date.now(), path: req.url ?? '/' });
        }
        total++;
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      });
    });
    next.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject);
      next.listen(boundPort, '127.0.0.1', () => resolve());
    });
    const address = next.address();
    if (address !== null && typeof address === 'object') boundPort = address.port;
    server = next;
  };

  const shut = async (): Promise<void> => {
    const current = server;
    server = undefined;
    if (current === undefined) return;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => current.close(() => resolve()));
  };

  await listen();
  return {
    get url() {
      return `http://127.0.0.1:${boundPort}`;
    },
    get port() {
      return boundPort;
    },
    receipts,
    total: () => total,
    down: shut,
    up: listen,
    close: shut,
  };
}
