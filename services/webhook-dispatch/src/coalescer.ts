/**
 * Runs many small writes as few statements: calls made while a flush is in flight (or in the
 * same turn of the event loop) wait and go together in the next one. Nothing is delayed by a
 * timer: a quiet endpoint's write goes alone at once; a busy one's writes share a round trip.
 * Two calls with the same key never share a flush (a multi-row upsert may touch a row once), so
 * the later one goes in the next. A failed flush fails every call in it.
 */
export class Coalescer<I, O> {
  readonly #run: (inputs: I[]) => Promise<O[]>;
  readonly #keyOf: (input: I) => string;
  readonly #maxBatch: number;
  #queue: Waiting<I, O>[] = [];
  #flushing = false;

  constructor(options: { run: (inputs: I[]) => Promise<O[]>; keyOf: (input: I) => string; maxBatch?: number }) {
    this.#run = options.run;
    this.#keyOf = options.keyOf;
    this.#maxBatch = Math.max(1, options.maxBatch ?? 500);
  }

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ input, resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
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
  resolve(output: O): void;
  reject(err: unknown): void;
}
