// The capture service as `pnpm bench e2e --source capture` runs it: the same service as
// services/capture/src/main.ts (startCapture, its config and its shutdown), plus a stand-in for
// WhatsApp. No process can reach a live socket's emitter from outside, so this one plays the
// sockets: one Baileys event buffer (`makeEventBuffer`, what a socket's `ev` is) per WhatsApp
// number, attached to capture as a session is, fed `messages.upsert` notifications one message
// per emit, as a live socket hands over messages that arrive one by one.
//
// The bench drives it over the IPC channel (FeedCommand → FeedReply, capture-load.ts). Feeding
// runs on capture's own event loop, as a socket's decoding does, so capture's CPU in the bench's
// figures includes Baileys' buffer.
import { runService } from '@switchyard/runtime';
import { startCapture, type CaptureService } from '../../services/capture/src/app.ts';
import { loadCaptureConfig } from '../../services/capture/src/config.ts';
import { simulatedEmitter, type SimulatedEmitter } from '../../services/capture/src/simulated-emitter.ts';
import { FEED_CHAT, fedMessage, type FeedCommand, type FeedReply } from './capture-load.ts';

if (process.send === undefined) throw new Error('capture-feed.ts runs as a child with an IPC channel (the e2e bench starts it)');

const reply = (message: FeedReply): void => {
  process.send?.(message);
};

const PROGRESS_EVERY = 1_000;

function feeder(capture: CaptureService) {
  const emitters = new Map<string, SimulatedEmitter>();
  const emitterFor = (tenant: string, instance: string): SimulatedEmitter => {
    const key = `${tenant}/${instance}`;
    let ev = emitters.get(key);
    if (ev === undefined) {
      ev = simulatedEmitter();
      capture.attach({ ev, tenant, instance });
      emitters.set(key, ev);
    }
    return ev;
  };
  const emit = (command: FeedCommand, i: number): void => {
    const { tenant, instance, messageId } = fedMessage(command.phase, i, command.tenants, command.instances);
    emitterFor(tenant, instance).emit('messages.upsert', {
      type: 'notify',
      messages: [
        {
          key: { remoteJid: FEED_CHAT, fromMe: false, id: messageId },
          message: { conversation: `bench ${command.phase} ${i}: a message of about the size people send` },
          messageTimestamp: Math.floor(Date.now() / 1000),
          pushName: 'Bench',
        },
      ],
    });
  };

  return async (command: FeedCommand): Promise<void> => {
    const started = performance.now();
    let emitted = 0;
    const report = () => {
      if (emitted % PROGRESS_EVERY === 0) reply({ op: 'progress', phase: command.phase, emitted });
    };
    if (command.rate === undefined) {
      // As fast as the emitters take them, yielding now and then as a socket's reads do, so
      // capture's writer and relay run while the feed goes on.
      while (emitted < command.count) {
        emit(command, emitted++);
        report();
        if (emitted % 100 === 0) await new Promise((r) => setImmediate(r));
      }
    } else {
      const rate = command.rate;
      while (emitted < command.count) {
        const due = Math.min(command.count, Math.floor(((performance.now() - started) / 1000) * rate));
        while (emitted < due) {
          emit(command, emitted++);
          report();
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    reply({ op: 'done', phase: command.phase, emitted, seconds: (performance.now() - started) / 1000 });
  };
}

await runService({
  service: 'capture',
  start: async () => {
    const capture = await startCapture(loadCaptureConfig());
    const feed = feeder(capture);
    // One command at a time, in the order they came.
    let queue = Promise.resolve();
    process.on('message', (command: FeedCommand) => {
      queue = queue
        .then(() => feed(command))
        .catch((err: unknown) => reply({ op: 'failed', phase: command.phase, error: err instanceof Error ? err.stack ?? err.message : String(err) }));
    });
    return {
      async stop() {
        process.removeAllListeners('message');
        await capture.stop();
        process.disconnect?.();
      },
    };
  },
});
