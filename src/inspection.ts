/**
 * Keeps tokens, device codes and client secrets out of inspection events (the Stately inspector, logs of the
 * `inspect` stream): snapshots carry the context, events carry responses, child actors carry their input.
 *
 * @module
 */

import { REDACTED } from './redact.js';

/** Names under which the flow keeps or sends a secret, in its context, its events and its HTTP parameters. */
const SECRET_MEMBERS = new Set([
  'token',
  'accessToken',
  'refreshToken',
  'idToken',
  'deviceCode',
  'clientSecret',
  'clientIdentifierSharedKey',
  'access_token',
  'refresh_token',
  'id_token',
  'device_code',
  'client_secret',
  'authorization',
]);

/** Emitted events whose `value` is a token. */
const TOKEN_EVENTS = new Set(['tokenChanged', 'refreshTokenChanged', 'idTokenChanged']);

const MAX_DEPTH = 32;

/**
 * A copy of `value` with every secret replaced by `[redacted]`: string members named like the flow's secrets
 * (`token`, `refreshToken`, `idToken`, `deviceCode`, `clientSecret`, their OAuth spellings, `authorization`) at any
 * depth, and the `value` of `tokenChanged`-style events. Actor references become `{ id, sessionId }` and machines
 * `{ id }`; other objects that are not plain data (errors, URLs) are kept. Works on XState inspection events and on
 * the serialised events of `@statelyai/inspect` alike.
 *
 * @example
 * ```ts
 * createActor(machine, { inspect: (event) => log(sanitizeInspectionEvent(event)) });
 * ```
 */
export function sanitizeInspectionEvent<T>(value: T): T {
  return sanitize(value, 0, new WeakMap()) as T;
}

/**
 * The `sanitizeContext`, `sanitizeEvent` and `serialize` options for `@statelyai/inspect`'s inspectors, all applying
 * {@link sanitizeInspectionEvent}; `serialize` also covers child actors' `input` and `output`, which the other two do
 * not reach.
 *
 * @example
 * ```ts
 * const inspector = createBrowserInspector({ ...inspectorSanitizers });
 * ```
 */
export const inspectorSanitizers = {
  sanitizeContext: <T>(context: T): T => sanitizeInspectionEvent(context),
  sanitizeEvent: <T>(event: T): T => sanitizeInspectionEvent(event),
  serialize: <T>(event: T): T => sanitizeInspectionEvent(event),
};

function sanitize(value: unknown, depth: number, seen: WeakMap<object, unknown>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return seen.get(value);
  if (depth >= MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    seen.set(value, copy);
    for (const item of value) copy.push(sanitize(item, depth + 1, seen));
    return copy;
  }
  if (!isPlain(value)) return summarize(value);
  const copy: Record<string, unknown> = {};
  seen.set(value, copy);
  const redactValue = TOKEN_EVENTS.has(String((value as { type?: unknown }).type));
  for (const [name, member] of Object.entries(value)) {
    const secret = (SECRET_MEMBERS.has(name) || (redactValue && name === 'value')) && typeof member === 'string' && member !== '';
    copy[name] = secret ? REDACTED : sanitize(member, depth + 1, seen);
  }
  return copy;
}

function isPlain(value: object): boolean {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * Class instances are not walked: an actor reference stands for itself by its ids (its internals hold its child
 * actors' input), a machine by its id; anything else (errors, URLs, dates) is passed through.
 */
function summarize(value: object): unknown {
  const candidate = value as { id?: unknown; sessionId?: unknown; send?: unknown; root?: unknown };
  if (typeof candidate.sessionId === 'string' && typeof candidate.send === 'function') return { id: candidate.id, sessionId: candidate.sessionId };
  if (typeof candidate.id === 'string' && typeof candidate.root === 'object') return { id: candidate.id };
  return value;
}
