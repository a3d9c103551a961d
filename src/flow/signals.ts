/**
 * A small typed signal emitter: `on(name, listener)` returns the function that removes the listener.
 *
 * @module
 */

/** A map from signal name to the argument list its listeners receive. */
export type SignalMap<Signals> = { [K in keyof Signals]: unknown[] };

/** A listener of signal `K`. */
export type SignalListener<Signals extends SignalMap<Signals>, K extends keyof Signals> = (...args: Signals[K]) => void;

/**
 * Rethrows `error` on a fresh microtask, where the platform reports it (Node's `uncaughtException`, a browser's `error`
 * event), as `EventTarget` does with a listener's exception: the application's own bug surfaces without stopping the
 * code that called it.
 */
export function reportLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

/**
 * Listeners per signal, called in the order they were added. A listener that throws does not stop the others or the
 * flow: its exception is rethrown on a fresh microtask, where the platform reports it (Node's `uncaughtException`, a
 * browser's `error` event), as `EventTarget` does.
 */
export class SignalEmitter<Signals extends SignalMap<Signals>> {
  readonly #listeners = new Map<keyof Signals, Set<(...args: unknown[]) => void>>();

  /** Adds `listener` for `name`; the returned function removes it. */
  on<K extends keyof Signals>(name: K, listener: SignalListener<Signals, K>): () => void {
    let listeners = this.#listeners.get(name);
    if (listeners === undefined) this.#listeners.set(name, (listeners = new Set()));
    const entry = listener as unknown as (...args: unknown[]) => void;
    listeners.add(entry);
    return () => {
      listeners.delete(entry);
    };
  }

  /** Calls the listeners of `name` with `args`. */
  emit<K extends keyof Signals>(name: K, ...args: Signals[K]): void {
    const listeners = this.#listeners.get(name);
    if (listeners === undefined) return;
    for (const listener of [...listeners]) {
      // Removed by an earlier listener of this same emission (off(), or dispose() clearing them all): not called.
      if (!listeners.has(listener)) continue;
      try {
        listener(...args);
      } catch (error) {
        reportLater(error);
      }
    }
  }


  /** Removes every listener, also from an emission under way. */
  clear(): void {
    for (const listeners of this.#listeners.values()) listeners.clear();
    this.#listeners.clear();
  }
}
