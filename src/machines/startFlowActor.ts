/**
 * Starting an actor of the statechart, new or resumed from a snapshot, and restarting one an exception stopped: what
 * `OAuth2DeviceAuthorizationFlow` does, for applications that use the machine directly.
 *
 * @module
 */

import { type Actor, type ActorOptions, createActor, type Snapshot } from 'xstate';
import { DeviceFlowError } from '../core/errors.js';
import { sanitizeCause } from '../core/redact.js';
import { type FlowSettingsInput, readSettings } from '../core/properties.js';
import type { DeviceAuthorizationMachine } from './deviceAuthorization.js';
import { type DeviceFlowSnapshot, readFlowSnapshot, resumable } from './snapshot.js';

/**
 * Options of {@link startFlowActor}: the actor's own options (`clock`, `inspect`…), and what the flow starts from.
 *
 * @see [XState actors](https://stately.ai/docs/actors)
 */
export interface StartFlowActorOptions extends Omit<ActorOptions<DeviceAuthorizationMachine>, 'input' | 'snapshot' | 'clock'> {
  /** The actor's clock: timers, and the time the statechart reads when it has `now()` (XState's `SimulatedClock` has). */
  clock?: ActorOptions<DeviceAuthorizationMachine>['clock'];
  /** Settings: those of a new flow, or those that replace the saved ones of a resumed flow. Checked as the setters check them. */
  settings?: FlowSettingsInput;
  /** A flow saved with `createFlowSnapshot()` (or the class's `snapshot()`), or its JSON text, to resume. */
  snapshot?: DeviceFlowSnapshot | string;
  /**
   * Called with the actor before it starts: the place to listen to its emitted events (`actor.on('*', …)`), which
   * resuming may already emit, and to register what its actors need.
   */
  prepare?: (actor: Actor<DeviceAuthorizationMachine>) => void;
}

/**
 * Creates and starts an actor of `machine`: a new flow with `settings`, or the flow saved in `snapshot`, resumed with
 * `settings` over the saved ones, its timers re-armed, the request it had in flight sent again (with the settings in
 * force now, through the usual checks), and a code that expired meanwhile settled before this returns.
 *
 * @throws {DeviceFlowError} `ClientError` when a setting does not fit, or the snapshot is not one of this release or
 *   does not fit its statechart.
 * @see [XState persistence](https://stately.ai/docs/persistence)
 * @example
 * ```ts
 * const actor = startFlowActor(createDeviceAuthorizationMachine(), { snapshot: saved, settings: { tokenUrl } });
 * ```
 */
export function startFlowActor(machine: DeviceAuthorizationMachine, options: StartFlowActorOptions = {}): Actor<DeviceAuthorizationMachine> {
  const { settings: given = {}, snapshot, prepare, ...actorOptions } = options;
  const settings = readSettings(given);
  const persisted = snapshot === undefined ? undefined : readFlowSnapshot(snapshot);
  const actor = startActor(machine, { ...actorOptions, input: settings, ...(persisted === undefined ? {} : { snapshot: persisted as Snapshot<unknown> }) }, prepare);
  if (persisted !== undefined) {
    // Settings given now win over the saved ones; then the timers and requests XState does not restore are set going
    // again, and a code that expired meanwhile is settled.
    actor.send({ type: 'UPDATE', settings });
    actor.send({ type: 'RESUME' });
  }
  return actor;
}

/**
 * Starts a new actor where `failed`, stopped by `error` in the middle of a step, last stood (the context of the last
 * step that completed), and ends what was in progress there with `FAIL`: `requestFailed` with `error`, in the order of
 * any failure of that request.
 *
 * @throws whatever starting or failing the new actor throws; it is stopped then.
 * @see [XState actors](https://stately.ai/docs/actors)
 */
export function restartFailedFlowActor(
  failed: Actor<DeviceAuthorizationMachine>,
  error: DeviceFlowError,
  options: Omit<StartFlowActorOptions, 'settings' | 'snapshot'> = {},
): Actor<DeviceAuthorizationMachine> {
  const { prepare, ...actorOptions } = options;
  const actor = startActor(failed.logic, { ...actorOptions, input: {}, snapshot: resumable(failed.getPersistedSnapshot()) as Snapshot<unknown> }, prepare);
  actor.send({ type: 'FAIL', error });
  return actor;
}

function startActor(
  machine: DeviceAuthorizationMachine,
  options: ActorOptions<DeviceAuthorizationMachine>,
  prepare?: (actor: Actor<DeviceAuthorizationMachine>) => void,
): Actor<DeviceAuthorizationMachine> {
  let actor: Actor<DeviceAuthorizationMachine>;
  try {
    actor = createActor(machine, options as never);
  } catch (error) {
    throw unfitSnapshot(error);
  }
  prepare?.(actor);
  // A snapshot that does not fit fails the actor as it starts: report that here rather than as an unhandled error.
  const starting = actor.subscribe({ error: () => undefined });
  actor.start();
  starting.unsubscribe();
  const started = actor.getSnapshot();
  if (started.status === 'error') throw unfitSnapshot(started.error);
  return actor;
}

function unfitSnapshot(cause: unknown): DeviceFlowError {
  return new DeviceFlowError('ClientError', `The snapshot does not fit this release's statechart: start a new flow with grant()`, {}, { cause: sanitizeCause(cause, []) });
}
