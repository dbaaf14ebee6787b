// Publishes a load from its own thread (and NATS connection), so the process that times the
// events under measurement is not also the one busy generating the load beside them.
import { parentPort, workerData } from 'node:worker_threads';
import { connect } from 'nats';
import { offerAtRate, publishAll, type OutgoingEvent } from './load.ts';

export interface PublishWork {
  url: string;
  events: OutgoingEvent[];
  /** Open loop at this rate (events/s) over the events; else all of them with `window` in flight. */
  rate?: number;
  window?: number;
}

const work = workerData as PublishWork;
const nc = await connect({ servers: work.url, noAsyncTraces: true });
const js = nc.jetstream();
// Started and connected before the measured window opens; publishing waits for the word.
const go = new Promise<void>((resolve) => parentPort?.once('message', () => resolve()));
parentPort?.postMessage({ ready: true });
await go;
if (work.rate !== undefined) {
  await offerAtRate(js, { rate: work.rate, seconds: work.events.length / work.rate, make: (i) => work.events[i]! });
} else {
  await publishAll(js, work.events, work.window ?? 256);
}
await nc.drain();
parentPort?.postMessage({ published: work.events.length });
