/**
 * Saving a flow and resuming it in another process: the actor's persisted snapshot, wrapped with a format name and a
 * schema version.
 *
 * @module
 */

import { DeviceFlowError } from '../core/errors.js';
import type { FlowProperties } from '../core/properties.js';
import { PROPERTY_RULES, type SettingName } from '../core/propertyRules.js';
import type { SavedDpopKey } from '../core/protocol/dpop.js';
import type { StoredTokens } from './types.js';
import { contextProblem } from './persistedState.js';

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
export const SNAPSHOT_VERSION = 2;

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
  /** The flow's DPoP key, when it has one (see `OAuth2DeviceAuthorizationFlow`'s `dpopKeyPair`). */
  dpopKey?: SavedDpopKey;
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
 * The actor's persisted snapshot inside `value`, checked: every value it restores must fit as the same value from the
 * application or the server would (URLs as in the settings, a polling interval of at least a second, times within a
 * day, or ten years for tokens, of when it was saved, plain JSON within the limits of a response body).
 *
 * @throws {DeviceFlowError} `ClientError` when `value` is not a snapshot of this package, one of another schema
 *   version, or one whose contents do not fit (it cannot be resumed; start a new flow with `grant()`). The message
 *   names what does not fit, never its value.
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
  const state = withLaterSettings(snapshot.state);
  const problem = stateProblem(state, typeof snapshot.savedAt === 'string' ? Date.parse(snapshot.savedAt) : Number.NaN);
  if (problem !== null) throw new DeviceFlowError('ClientError', `The snapshot cannot be resumed: ${problem}; start a new flow with grant()`);
  return resumable(state);
}

/** Settings added to the context after its schema version was last raised: a snapshot may lack them. */
const LATER_SETTINGS: readonly SettingName[] = ['pollJitter'];

/**
 * `state` with any of {@link LATER_SETTINGS} it lacks at their defaults: a token store keeps its snapshot across an
 * upgrade, and a new setting must not sign its user out.
 */
function withLaterSettings(state: object): object {
  const { context } = state as { context?: { properties?: unknown } };
  const properties = context?.properties;
  if (typeof properties !== 'object' || properties === null || LATER_SETTINGS.every((name) => name in properties)) return state;
  const defaults = Object.fromEntries(LATER_SETTINGS.map((name) => [name, PROPERTY_RULES[name].initial]));
  return { ...state, context: { ...context, properties: { ...defaults, ...properties } } };
}

/** What is wrong with a persisted state saved at `savedAt`, or `null`. The state value itself XState checks. */
function stateProblem(state: object, savedAt: number): string | null {
  if (!Number.isFinite(savedAt)) return 'savedAt must be an ISO 8601 time';
  const { status, historyValue } = state as { status?: unknown; historyValue?: unknown };
  if (status !== 'active') return 'state.status must be active';
  if (historyValue !== undefined && (typeof historyValue !== 'object' || historyValue === null || Object.keys(historyValue).length > 0)) {
    return 'state.historyValue must be empty';
  }
  return contextProblem((state as { context?: unknown }).context, savedAt);
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

/**
 * The tokens a saved flow holds, read from its snapshot through every check of {@link readFlowSnapshot}: what another
 * flow of the same sign-in takes with `ADOPT_TOKENS` when this one refreshed them.
 *
 * @throws {DeviceFlowError} `ClientError` as {@link readFlowSnapshot} does.
 * @see [RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1)
 */
export function storedTokensOf(value: unknown): StoredTokens {
  const { context } = readFlowSnapshot(value) as { context: { properties: FlowProperties } };
  const { token, refreshToken, idToken, idTokenClaims, tokenType, expirationAt, grantedScopeTokens } = context.properties;
  return { token, refreshToken, idToken, idTokenClaims, tokenType, expirationAt, grantedScopeTokens };
}
