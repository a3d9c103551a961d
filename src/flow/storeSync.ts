/**
 * Keeping a flow's {@link TokenStore} up to date: one save after each step that changed what the flow holds, in order,
 * never two at once.
 *
 * @module
 */

import { DeviceFlowError, isDeviceFlowError } from '../core/errors.js';
import { redactSecrets } from '../core/redact.js';
import type { TokenStore } from './tokenStore.js';

/**
 * Saves `snapshot()` to `store` after the steps that change what a flow holds. The changes of one step (its signals
 * are delivered together) make one save, on a microtask after them; saves run one after the other, each with the flow
 * as it was when it was scheduled, so the last one saved is the latest. While `snapshot()` gives `null` (a refresh in
 * flight) nothing is saved: the changes wait for the next save, which the refresh's outcome brings.
 */
export class StoreSync {
  readonly #store: TokenStore;
  readonly #snapshot: () => string | null;
  readonly #failed: (error: DeviceFlowError) => void;
  readonly #secrets: () => string[];
  #dirty = false;
  #scheduled = false;
  #saving: Promise<void> = Promise.resolve();
  /** Callers of {@link flush} waiting for changes that could not be saved yet. */
  #deferred: (() => void)[] = [];

  /**
   * @param snapshot what to save, or `null` while the flow is between two states worth keeping: a snapshot taken with
   *   a refresh in flight would make whoever loads it (another process sharing the store) send that refresh again,
   *   outside the store's lock, with a refresh token the refresh may have rotated.
   * @param secrets what the flow holds that a store's error may quote (a careless store may put the value it was given
   *   into its message): removed from what `failed` receives.
   */
  constructor(store: TokenStore, snapshot: () => string | null, failed: (error: DeviceFlowError) => void, secrets: () => string[]) {
    this.#store = store;
    this.#snapshot = snapshot;
    this.#failed = failed;
    this.#secrets = secrets;
  }

  /** Notes a change; the save follows on a microtask, together with the other changes of the same step. */
  changed(): void {
    this.#dirty = true;
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      void this.flush();
    });
  }

  /**
   * Saves now what changed, if anything; resolves when every change so far is saved (a failed save was reported), or
   * the flow was closed before it could be.
   */
  flush(): Promise<void> {
    if (!this.#dirty) return this.#saving;
    const value = this.#snapshot();
    if (value === null) return new Promise((resolve) => this.#deferred.push(resolve));
    this.#dirty = false;
    const waiting = this.#deferred.splice(0);
    this.#saving = this.#saving.then(() => this.#store.save(value)).catch((error: unknown) => this.#failed(redactSecrets(saveError(error), this.#secrets())));
    for (const resolve of waiting) void this.#saving.then(resolve);
    return this.#saving;
  }

  /** The flow is gone: changes that waited are not saved, and whoever waited for them is told so by resolving. */
  close(): void {
    for (const resolve of this.#deferred.splice(0)) resolve();
  }
}

/** A store's failure, as the flow reports it: a `DeviceFlowError` as it is, anything else in the flow's words. */
function saveError(error: unknown): DeviceFlowError {
  if (isDeviceFlowError(error)) return error;
  return new DeviceFlowError('ClientError', `The token store could not save the flow: ${error instanceof Error ? error.message : String(error)}`, {}, { cause: error });
}
