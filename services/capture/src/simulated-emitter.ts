// For the benchmark (bench/capture.ts), which has no Baileys dependency of its own: a Baileys event
// buffer standing in for a socket's `ev`, as the tests use it.
import { makeEventBuffer } from '@whiskeysockets/baileys';
import { silentLogger } from './test-support.ts';

export type SimulatedEmitter = ReturnType<typeof makeEventBuffer>;

export function simulatedEmitter(): SimulatedEmitter {
  return makeEventBuffer(silentLogger);
}
