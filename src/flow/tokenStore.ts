/**
 * Where a flow keeps what it holds between processes: one opaque string (the flow's snapshot), loaded, saved and
 * cleared, and a lock for the moments when two processes must not both act (a refresh that rotates the refresh token).
 *
 * @module
 */

/**
 * A place to keep one flow's snapshot: a file, the OS keychain (both in `oauth2-device-flow/node`), IndexedDB in a
 * browser, or memory. What it keeps is a credential (tokens, the device code, a DPoP key): store it where you would
 * store a password.
 *
 * @see [RFC 6819 §5.1.6](https://www.rfc-editor.org/rfc/rfc6819#section-5.1.6) on keeping tokens confidential
 */
export interface TokenStore {
  /** The string last saved, or `null` when there is none. */
  load(): Promise<string | null>;
  /** Replaces what is kept with `value`, whole: a reader never sees half of it. */
  save(value: string): Promise<void>;
  /** Forgets what is kept; nothing to forget is no error. */
  clear(): Promise<void>;
  /**
   * Runs `work` while no other holder of the same lock (in this process or, for stores that can, another one) runs
   * its own: the flow refreshes under it, so that two processes do not spend one refresh token twice. Stores without
   * it are used unlocked.
   */
  lock?<T>(work: () => Promise<T>): Promise<T>;
}

/**
 * A {@link TokenStore} in memory, for tests, for a browser tab that must not keep tokens beyond its life, and as the
 * model of one's own store. Its lock orders the callers within one program.
 *
 * @param initial what it holds to begin with (a snapshot's JSON text), if anything.
 * @see [RFC 6819 §5.1.6](https://www.rfc-editor.org/rfc/rfc6819#section-5.1.6)
 * @example
 * ```ts
 * const flow = await OAuth2DeviceAuthorizationFlow.load({ ...options, tokenStore: createMemoryTokenStore() });
 * ```
 */
export function createMemoryTokenStore(initial: string | null = null): TokenStore {
  let value = initial;
  let queue: Promise<unknown> = Promise.resolve();
  return {
    load: async () => value,
    save: async (next) => {
      if (typeof next !== 'string') throw new TypeError('A token store keeps a string');
      value = next;
    },
    clear: async () => {
      value = null;
    },
    lock<T>(work: () => Promise<T>): Promise<T> {
      const run = queue.then(work, work);
      // The next caller waits for this one, whatever its outcome.
      queue = run.catch(() => undefined);
      return run;
    },
  };
}
