/**
 * Saving a flow and resuming it in another process: the actor's persisted snapshot, wrapped with a format name and a
 * schema version.
 *
 * @module
 */

import { DeviceFlowError } from './errors.js';

/**
 * The format name every snapshot carries, so that {@link readFlowSnapshot} recognises one.
 *
 * @see [XState persistence](https://stately.ai/docs/persistence)
 */
export const SNAPSHOT_FORMAT = 'oauth2-device-flow';

/**
 * The schema of the statechart's context this release writes and reads; it changes when the context does.
 *
 * @see [XState persistence](https://stately.ai/docs/persistence)
 */
export const SNAPSHOT_VERSION = 1;

/**
 * A saved flow: plain JSON, to store and hand back to `new OAuth2DeviceAuthorizationFlow({ ...options, snapshot })`.
 *
 * It holds the device code and any tokens: store it as you would store the tokens themselves (a keychain, an
 * encrypted file readable by the user only), never in logs or plain shared storage. The client secret is not in it.
 *
 * @see [XState persistence](https://stately.ai/docs/persistence)
 */
export interface DeviceFlowSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  version: number;
  /** When the snapshot was taken (ISO 8601). */
  savedAt: string;
  /** The actor's persisted snapshot (`actor.getPersistedSnapshot()`). */
  state: unknown;
}

/**
 * Wraps an actor's persisted snapshot, for embedding the statechart without the class: save
 * `createFlowSnapshot(actor.getPersistedSnapshot())`; resume with `createActor(machine, { snapshot:
 * readFlowSnapshot(saved), input: {} })`, `start()`, then send `{ type: 'RESUME' }`.
 *
 * @param now when the snapshot is taken, in epoch ms.
 * @see [XState persistence](https://stately.ai/docs/persistence)
 */
export function createFlowSnapshot(persisted: unknown, now: number = Date.now()): DeviceFlowSnapshot {
  return { format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, savedAt: new Date(now).toISOString(), state: JSON.parse(JSON.stringify(persisted)) };
}

/**
 * The actor's persisted snapshot inside `value`.
 *
 * @throws {DeviceFlowError} `ClientError` when `value` is not a snapshot of this package, or one of another schema
 *   version (it cannot be resumed; start a new flow with `grant()`).
 * @see [XState persistence](https://stately.ai/docs/persistence)
 */
export function readFlowSnapshot(value: unknown): unknown {
  const snapshot = (typeof value === 'string' ? parseJson(value) : value) as Partial<DeviceFlowSnapshot> | null;
  if (typeof snapshot !== 'object' || snapshot === null || snapshot.format !== SNAPSHOT_FORMAT || typeof snapshot.state !== 'object' || snapshot.state === null) {
    throw new DeviceFlowError('ClientError', `Not a snapshot of ${SNAPSHOT_FORMAT}: pass what flow.snapshot() returned`);
  }
  if (snapshot.version !== SNAPSHOT_VERSION) {
    throw new DeviceFlowError(
      'ClientError',
      `The snapshot has schema version ${JSON.stringify(snapshot.version)}, but this release of ${SNAPSHOT_FORMAT} reads version ${SNAPSHOT_VERSION}: start a new flow with grant()`,
    );
  }
  return resumable(snapshot.state);
}

/**
 * A persisted snapshot, made fit to start an actor from: without the requests that were in flight when it was saved
 * (XState would send them again as they were, to the endpoint and with the client saved then; the statechart sends
 * them again on `RESUME`, with the settings in force and through the same checks as any request), and active again if
 * it was taken from an actor an exception stopped (its context is that of the last step that completed).
 *
 * @internal
 */
export function resumable(state: object): object {
  const { error: _error, ...rest } = state as { error?: unknown };
  return { ...rest, status: 'active', children: {} };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
