// The receiver's own thread (see receiver.ts): an HTTP server that answers at once (204), or
// never within a request's timeout on a `/hanging…` path, and records when each request arrived.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort } from 'node:worker_threads';
import type { ReceiverReply, ReceiverRequest } from './receiver.ts';

const port = parentPort!;
/** Per path: [webhook-id, epoch ms with sub-ms precision] of every request, in arrival order. */
const arrivals = new Map<string, Array<[string, number]>>();
const HANG_MS = 60_000;

const server = createServer((req, res) => {
  // Read the body as a receiver must (and drop it): the request has arrived once it ended.
  req.resume();
  req.on('end', () => {
    const at = performance.timeOrigin + performance.now();
    const path = req.url ?? '/';
    let list = arrivals.get(path);
    if (list === undefined) arrivals.set(path, (list = []));
    list.push([String(req.headers['webhook-id'] ?? ''), at]);
    if (!path.startsWith('/hanging')) {
      res.writeHead(204).end();
      return;
    }
    const timer = setTimeout(() => res.destroyed || res.writeHead(200).end(), HANG_MS);
    res.on('close', () => clearTimeout(timer));
  });
});

server.listen(0, '127.0.0.1', () => port.postMessage({ kind: 'listening', port: (server.address() as AddressInfo).port } satisfies ReceiverReply));

port.on('message', (message: ReceiverRequest) => {
  switch (message.kind) {
    case 'count':
      port.postMessage({ kind: 'answer', id: message.id, count: arrivals.get(message.path)?.length ?? 0 } satisfies ReceiverReply);
      break;
    case 'arrivals':
      port.postMessage({ kind: 'answer', id: message.id, arrivals: arrivals.get(message.path) ?? [] } satisfies ReceiverReply);
      break;
    case 'close':
      server.closeAllConnections();
      server.close(() => port.postMessage({ kind: 'answer', id: message.id } satisfies ReceiverReply));
      break;
  }
});
