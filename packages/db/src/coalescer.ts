import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Runs many small writes as few statements (webhook-dispatch's delivery log, capture's seq
 * numbering): calls made while a flush is in flight (or in the same turn of the event loop) wait
 * and go together in the next one. With `waitMs` (default 0),
 * a flush also waits until its oldest call is that old, unless a full batch is already there: a
 * statement costs Postgres far more than a row does (its round trip and commit, and its planning
 * unless prepared: 0.2–0.4 ms of its CPU against ~15 µs per row of the delivery log's), so a few
 * milliseconds turn one statement per call or two into one per several, or per dozens under load. Without it, a quiet
 * endpoint's write goes alone at once. Two calls with the same key never share a flush (a
 * multi-row upsert may touch a row once), so the later one goes in the next. A failed flush fails
 * every call in it.
 */
export class Coalescer<I, O> {
  readonly #run: (inputs: I[]) => Promise<O[]>;
  readonly #keyOf: (input: I) => string;
  readonly #maxBatch: number;
  readonly #waitMs: number;
  #queue: Waiting<I, O>[] = [];
  #flushing = false;

  constructor(options: { run: (inputs: I[]) => Promise<O[]>; keyOf: (input: I) => string; maxBatch?: number; waitMs?: number }) {
    this.#run = options.run;
    this.#keyOf = options.keyOf;
    this.#maxBatch = Math.max(1, options.maxBatch ?? 500);
    this.#waitMs = Math.max(0, options.waitMs ?? 0);
  }

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ input, resolve, reject, at: this.#waitMs > 0 ? performance.now() : 0 });
      if (!this.#flushing) {
        this.#flushing = true;
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const oldest = this.#queue[0]!.at;
      const wait = oldest + this.#waitMs - performance.now();
      if (wait > 0 && this.#queue.length < this.#maxBatch) await sleep(wait);
      const batch = this.#take();
      try {
        const outputs = await this.#run(batch.map((w) => w.input));
        if (outputs.length !== batch.length) throw new Error(`a coalesced write answered ${outputs.length} results for ${batch.length} calls`);
        batch.forEach((w, i) => w.resolve(outputs[i] as O));
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    this.#flushing = false;
  }

  #take(): Waiting<I, O>[] {
    const keys = new Set<string>();
    const batch: Waiting<I, O>[] = [];
    const rest: Waiting<I, O>[] = [];
    for (const waiting of this.#queue) {
      const key = this.#keyOf(waiting.input);
      if (batch.length < this.#maxBatch && !keys.has(key)) {
        keys.add(key);
        batch.push(waiting);
      } else {
        rest.push(waiting);
      }
    }
    this.#queue = rest;
    return batch;
  }
}

interface Waiting<I, O> {
  input: I;
  /** When it was submitted (performance.now()), for `waitMs`. */
  at: number;
  resolve(output: O): void;
  reject(err: unknown): void;
}
