/** A counting semaphore: at most `limit` holders at once, the rest wait in arrival order. */
export class Semaphore {
  #free: number;
  #waiting: (() => void)[] = [];
  #head = 0;

  constructor(readonly limit: number) {
    this.#free = limit;
  }

  /** Resolves when a slot is held; call the returned function once to give it back. */
  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#release();
    };
  }

  #release(): void {
    if (this.#head < this.#waiting.length) {
      const next = this.#waiting[this.#head]!;
      this.#waiting[this.#head++] = undefined as unknown as () => void;
      // (a queue drained from the front: compact it now and then instead of shift()ing every time)
      if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
        this.#waiting = this.#waiting.slice(this.#head);
        this.#head = 0;
      }
      next(); // the slot passes straight to the next waiter
    } else this.#free++;
  }

  /** Holders right now. */
  get inUse(): number {
    return this.limit - this.#free;
  }

  get waiting(): number {
    return this.#waiting.length - this.#head;
  }
}
