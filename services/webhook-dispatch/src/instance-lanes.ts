/**
 * Per-instance order at one endpoint: work for the same instance runs one at a time, in the
 * order it arrived (the WEBHOOKS stream order, i.e. the instance's `seq` order); different
 * instances run side by side. A delivery that keeps failing therefore holds back the later
 * events of its instance at this endpoint, and only those.
 */
export class InstanceLanes {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(instance: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(instance) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.catch(() => undefined);
    this.#tails.set(instance, tail);
    // Forget idle lanes so instances that went quiet cost nothing.
    void tail.then(() => {
      if (this.#tails.get(instance) === tail) this.#tails.delete(instance);
    });
    return result;
  }

  get size(): number {
    return this.#tails.size;
  }
}
