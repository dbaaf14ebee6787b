import { Worker } from 'node:worker_threads';

/** What the bench asks the receiver thread. */
export type ReceiverRequest =
  | { kind: 'count'; id: number; path: string }
  | { kind: 'arrivals'; id: number; path: string }
  | { kind: 'close'; id: number };

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** What the receiver thread answers. */
export type ReceiverReply =
  | { kind: 'listening'; port: number }
  | { kind: 'answer'; id: number; count?: number; arrivals?: Array<[string, number]> };

export interface ThreadedReceiver {
  url: string;
  /** Requests that arrived on `path` so far. */
  count(path: string): Promise<number>;
  /** Every request on `path`: its `webhook-id` and when it arrived (epoch ms, sub-ms precision). */
  arrivals(path: string): Promise<Array<{ webhookId: string; at: number }>>;
  close(): Promise<void>;
}

/**
 * A webhook receiver on its own thread, as a tenant's endpoint is in another process: its work
 * does not share the event loop of the dispatcher (or of the raw POST loop) that it times. It
 * answers 204 at once, and never (within a request's timeout) on paths starting `/hanging`.
 */
export async function startReceiverInWorker(): Promise<ThreadedReceiver> {
  const worker = new Worker(new URL('./receiver-worker.mjs', import.meta.url));
  type Answer = Extract<ReceiverReply, { kind: 'answer' }>;
  const waiting = new Map<number, { resolve: (reply: Answer) => void; reject: (err: Error) => void }>();
  let failed: Error | undefined;
  let nextId = 0;
  const port = await new Promise<number>((resolve, reject) => {
    worker.on('error', (err) => {
      failed = err;
      reject(err);
      for (const pending of waiting.values()) pending.reject(err);
      waiting.clear();
    });
    worker.on('message', (reply: ReceiverReply) => {
      if (reply.kind === 'listening') resolve(reply.port);
      else waiting.get(reply.id)?.resolve(reply);
    });
  });
  const ask = (request: WithoutId<ReceiverRequest>): Promise<Answer> =>
    new Promise((resolve, reject) => {
      if (failed !== undefined) return reject(failed);
      const id = nextId++;
      waiting.set(id, {
        resolve: (reply) => {
          waiting.delete(id);
          resolve(reply);
        },
        reject,
      });
      worker.postMessage({ ...request, id });
    });
  return {
    url: `http://127.0.0.1:${port}`,
    count: async (path) => (await ask({ kind: 'count', path })).count ?? 0,
    arrivals: async (path) => ((await ask({ kind: 'arrivals', path })).arrivals ?? []).map(([webhookId, at]) => ({ webhookId, at })),
    async close() {
      await ask({ kind: 'close' });
      await worker.terminate();
    },
  };
}
