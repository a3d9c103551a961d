/**
 * A clock for tests whose `advance(ms)` fires each due timer at its own due time: `now()` inside a callback is the
 * moment the timer was set for. (XState's SimulatedClock moves to the end of the whole increment first, so a timer
 * due half-way would see the later time.)
 */
export class SteppedClock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, { at: number; order: number; fn: () => void }>();
  readonly #random: (() => number) | null;

  /**
   * @param random when given, timers due at the same moment fire in an order it decides, as real timers of different
   *   durations may; otherwise in the order they were set.
   */
  constructor(now: number, random: (() => number) | null = null) {
    this.#now = now;
    this.#random = random;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: (...args: unknown[]) => void, ms: number): number {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), order: this.#random === null ? id : this.#random(), fn: () => fn() });
    return id;
  }

  clearTimeout(id: unknown): void {
    this.#timers.delete(id as number);
  }

  /** How many timers are pending. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, earliest first. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      const next = [...this.#timers.entries()].filter(([, timer]) => timer.at <= end).sort(([, a], [, b]) => a.at - b.at || a.order - b.order)[0];
      if (next === undefined) break;
      const [id, timer] = next;
      this.#timers.delete(id);
      this.#now = timer.at;
      timer.fn();
    }
    this.#now = end;
  }
}
