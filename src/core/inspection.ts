/**
 * Keeps tokens, device codes and client secrets out of inspection events (the Stately inspector, logs of the
 * `inspect` stream): snapshots carry the context, events carry responses, child actors carry their input.
 *
 * @module
 */

import { SECRET_PROPERTY_NAMES } from './propertyRules.js';
import { MIN_REDACTED_LENGTH, REDACTED, redactForms, type SecretForm, secretForms } from './redact.js';

/**
 * Names under which the flow keeps or sends a secret, in its context, its events and its HTTP parameters: the secret
 * properties, and the other places secrets travel (the device code, the client secret, the OAuth members).
 */
const SECRET_MEMBERS = new Set<string>([
  ...SECRET_PROPERTY_NAMES,
  'accessToken',
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

/** Emitted events whose `value` is a secret property's. */
const TOKEN_EVENTS = new Set(SECRET_PROPERTY_NAMES.map((name) => `${name}Changed`));

const MAX_DEPTH = 32;

/**
 * A sanitiser for a stream of inspection events. It replaces with `[redacted]` every string member named like one of
 * the flow's secrets (`token`, `refreshToken`, `idToken`, `deviceCode`, `clientSecret`, their OAuth spellings,
 * `authorization`) and the `value` of `tokenChanged`-style events, and it remembers each secret it sees there, to cut
 * it out of every later string as well: an error event quoting a token the context held earlier is cleaned too.
 * Errors become plain data; actor references become `{ id, sessionId }` and machines `{ id }`. Works on XState
 * inspection events and on the serialised events of `@statelyai/inspect` alike. The input is never changed.
 *
 * @see [XState inspection](https://stately.ai/docs/inspection)
 * @example
 * ```ts
 * const sanitize = createInspectionSanitizer();
 * createActor(machine, { inspect: (event) => log(sanitize(event)) });
 * ```
 */
export function createInspectionSanitizer(): <T>(value: T) => T {
  const known = new Set<string>();
  return <T>(value: T): T => {
    learn(value, known, 0, new WeakSet());
    return sanitize(value, secretForms([...known]), 0, new WeakMap()) as T;
  };
}

/**
 * {@link createInspectionSanitizer} for a single value: only the secrets within `value` itself are known.
 *
 * @see [XState inspection](https://stately.ai/docs/inspection)
 */
export function sanitizeInspectionEvent<T>(value: T): T {
  return createInspectionSanitizer()(value);
}

/**
 * The `sanitizeContext`, `sanitizeEvent` and `serialize` options for one `@statelyai/inspect` inspector, sharing one
 * {@link createInspectionSanitizer}; `serialize` also covers child actors' `input` and `output`, which the other two do
 * not reach.
 *
 * @see [Stately Inspector](https://stately.ai/docs/inspector)
 * @example
 * ```ts
 * const inspector = createBrowserInspector({ ...createInspectorSanitizers() });
 * ```
 */
export function createInspectorSanitizers() {
  const sanitize = createInspectionSanitizer();
  return {
    sanitizeContext: <T>(context: T): T => sanitize(context),
    sanitizeEvent: <T>(event: T): T => sanitize(event),
    serialize: <T>(event: T): T => sanitize(event),
  };
}

function isSecretMember(holder: object, name: string, member: unknown): member is string {
  if (typeof member !== 'string' || member === '') return false;
  return SECRET_MEMBERS.has(name) || (name === 'value' && TOKEN_EVENTS.has(String((holder as { type?: unknown }).type)));
}

function learn(value: unknown, known: Set<string>, depth: number, seen: WeakSet<object>): void {
  if (typeof value !== 'object' || value === null || seen.has(value) || depth >= MAX_DEPTH) return;
  seen.add(value);
  if (!Array.isArray(value) && !isPlain(value)) return;
  for (const [name, member] of Object.entries(value)) {
    if (isSecretMember(value, name, member)) {
      if (member.length >= MIN_REDACTED_LENGTH) known.add(member);
    } else learn(member, known, depth + 1, seen);
  }
}

function sanitize(value: unknown, secrets: readonly SecretForm[], depth: number, seen: WeakMap<object, unknown>): unknown {
  if (typeof value === 'string') return redactForms(value, secrets);
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return seen.get(value);
  if (depth >= MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    seen.set(value, copy);
    for (const item of value) copy.push(sanitize(item, secrets, depth + 1, seen));
    return copy;
  }
  const plain = value instanceof Error ? errorAsData(value) : isPlain(value) ? value : null;
  if (plain === null) return summarize(value);
  const copy: Record<string, unknown> = {};
  seen.set(value, copy);
  for (const [name, member] of Object.entries(plain)) {
    copy[name] = isSecretMember(plain, name, member) ? REDACTED : sanitize(member, secrets, depth + 1, seen);
  }
  return copy;
}

function errorAsData(error: Error): Record<string, unknown> {
  return { ...error, name: error.name, message: error.message };
}

function isPlain(value: object): boolean {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * Class instances are not walked: an actor reference stands for itself by its ids (its internals hold its child
 * actors' input), a machine by its id; anything else (URLs, dates) is passed through.
 */
function summarize(value: object): unknown {
  const candidate = value as { id?: unknown; sessionId?: unknown; send?: unknown; root?: unknown };
  if (typeof candidate.sessionId === 'string' && typeof candidate.send === 'function') return { id: candidate.id, sessionId: candidate.sessionId };
  if (typeof candidate.id === 'string' && typeof candidate.root === 'object') return { id: candidate.id };
  return value;
}
