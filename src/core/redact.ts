/**
 * Keeps secrets out of errors. A server may echo the device code or the client secret in `error_description`, and a
 * modifier's exception may quote a token or carry the whole request; none of it may reach a message, a log line or a
 * serialised error.
 *
 * @module
 */

import { DeviceFlowError } from './errors.js';

/** What stands in for a removed secret. */
export const REDACTED = '[redacted]';

/**
 * Secrets shorter than this are not looked for: one to three characters cannot be told apart from ordinary text, and
 * no real token, code or secret is that short.
 */
export const MIN_REDACTED_LENGTH = 4;

/**
 * Secrets shorter than this are redacted only where they stand alone (not inside a longer run of letters and
 * digits): a test token `"atat"` must not turn "format" into "form[redacted]", while `client_secret=S3cr3t` still
 * loses its six-character secret.
 */
const WHOLE_WORD_BELOW = 8;

/**
 * How one secret is found in text: `text` as sent, and, for a secret with characters that encoders change,
 * `pattern`, which also matches every encoded spelling of it.
 */
export interface SecretForm {
  text: string;
  /** Counts only where it stands alone (not inside a longer run of letters and digits). */
  alone: boolean;
  /** A global expression matching the secret as sent and encoded; absent when no encoder changes it. */
  pattern?: RegExp;
}

// Characters that no encoder changes (form encoding changes `~`, Python's quote `!*'()`): most tokens are made of these.
const UNCHANGED_BY_ENCODING = /^[A-Za-z0-9_.-]*$/;

/**
 * How to find each of `secrets` in a server's or a library's text, longest first (so that a secret containing another
 * is replaced whole). A secret with characters that encoders change is found in every spelling a character may take,
 * mixed freely: as is, percent-encoded in either case and whatever the encoder keeps (`encodeURIComponent`, Python's
 * `quote`, a form body's `+` for a space), JSON-escaped (`\u002f`, PHP's `\/`) and as an HTML character reference.
 */
export function secretForms(secrets: readonly string[]): SecretForm[] {
  const unique = [...new Set(secrets)].filter((secret) => secret.length >= MIN_REDACTED_LENGTH).sort((a, b) => b.length - a.length);
  return unique.map((text) => {
    const alone = text.length < WHOLE_WORD_BELOW;
    if (UNCHANGED_BY_ENCODING.test(text)) return { text, alone };
    const spelled = Array.from(text, spellings).join('');
    return { text, alone, pattern: new RegExp(alone ? `(?<![A-Za-z0-9])${spelled}(?![A-Za-z0-9])` : spelled, 'g') };
  });
}

/** A regular expression matching character `character` in any of its encoded spellings. */
function spellings(character: string): string {
  if (UNCHANGED_BY_ENCODING.test(character)) return character;
  const point = character.codePointAt(0)!;
  const alternatives = [
    escapeRegExp(character),
    [...utf8.encode(character)].map((byte) => `%${hexDigits(byte, 2)}`).join(''),
    jsonEscape(character),
    `&#0*${point};`,
    `&#[xX]0*${hexDigits(point, 1)};`,
    ...(JSON_SHORT_ESCAPES[character] === undefined ? [] : [escapeRegExp(JSON_SHORT_ESCAPES[character])]),
    ...(HTML_NAMED[character] === undefined ? [] : [HTML_NAMED[character]]),
    ...(character === ' ' ? ['\\+'] : []),
  ];
  return `(?:${alternatives.join('|')})`;
}

const utf8 = new TextEncoder();

const JSON_SHORT_ESCAPES: Record<string, string> = { '/': '\\/', '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };
const HTML_NAMED: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&(?:apos|#39);' };

/** `\uXXXX` for each UTF-16 code unit of `character`, hex digits in either case. */
function jsonEscape(character: string): string {
  let escaped = '';
  for (let index = 0; index < character.length; index++) escaped += `\\\\u${hexDigits(character.charCodeAt(index), 4)}`;
  return escaped;
}

/** `value` in hexadecimal, at least `width` digits, as a pattern that takes either case. */
function hexDigits(value: number, width: number): string {
  return [...value.toString(16).padStart(width, '0')].map((digit) => (/[a-f]/.test(digit) ? `[${digit}${digit.toUpperCase()}]` : digit)).join('');
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/** `text` with every occurrence of each of `forms` replaced by {@link REDACTED}. */
export function redactForms(text: string, forms: readonly SecretForm[]): string {
  let result = text;
  for (const form of forms) {
    if (form.pattern !== undefined) result = result.replace(form.pattern, REDACTED);
    else if (result.includes(form.text)) result = form.alone ? replaceAlone(result, form.text) : result.split(form.text).join(REDACTED);
  }
  return result;
}

const WORD_CHARACTER = /[A-Za-z0-9]/;

function replaceAlone(text: string, secret: string): string {
  let result = '';
  let from = 0;
  for (let at = text.indexOf(secret); at !== -1; at = text.indexOf(secret, at + secret.length)) {
    const before = text[at - 1] ?? '';
    const after = text[at + secret.length] ?? '';
    if (WORD_CHARACTER.test(before) || WORD_CHARACTER.test(after)) continue;
    result += text.slice(from, at) + REDACTED;
    from = at + secret.length;
  }
  return result + text.slice(from);
}

/**
 * A copy of `error` with `secrets` redacted from its message, server fields and stack, and its `cause` replaced by
 * {@link sanitizeCause}'s copy: whatever else the error or its cause carried (a request body, headers, the form
 * parameters) is left behind. Always a new error, so that nothing added to `error` survives.
 */
export function redactSecrets(error: DeviceFlowError, secrets: readonly string[]): DeviceFlowError {
  const forms = secretForms(secrets);
  const { code, message, ...fields } = error.toData();
  // The server's free text: where an echoed secret can stand.
  const text = (value: string | undefined) => (value === undefined ? undefined : redactForms(value, forms));
  const redactedFields = { ...fields, error: text(fields.error), errorDescription: text(fields.errorDescription), errorUri: text(fields.errorUri) };
  const copy = new DeviceFlowError(code, redactForms(message, forms), redactedFields, error.cause === undefined ? undefined : { cause: sanitizeCause(error.cause, forms) });
  if (error.stack !== undefined) copy.stack = redactForms(error.stack, forms);
  return copy;
}

/** How many levels of `cause` a sanitised cause keeps, and how many errors of an `AggregateError`. */
const MAX_CAUSE_DEPTH = 4;
const MAX_AGGREGATED_ERRORS = 8;

/**
 * What may stand as the `cause` of a reported error, built from whatever was thrown: for an `Error`, a new `Error`
 * with the same name, the message and stack with `forms` redacted, a string or number `code` (such as `ECONNRESET`),
 * and its own `cause` and `errors` sanitised in turn; for a string, the string redacted; for anything else, an
 * `Error` naming its type. Nothing else of the original is kept: an exception may carry the request it failed on.
 */
export function sanitizeCause(cause: unknown, forms: readonly SecretForm[], depth = 0): unknown {
  if (typeof cause === 'string') return redactForms(cause, forms);
  if (!(cause instanceof Error)) return new Error(`A value of type ${typeName(cause)} was thrown`);
  const text = (read: () => unknown) => redactForms(safely(read), forms);
  const inner = safelyRead(() => cause.cause);
  const copy: Error & { code?: string | number; errors?: unknown[] } = new Error(
    text(() => cause.message),
    depth < MAX_CAUSE_DEPTH && inner !== undefined ? { cause: sanitizeCause(inner, forms, depth + 1) } : undefined,
  );
  copy.name = text(() => cause.name);
  copy.stack = text(() => cause.stack ?? `${copy.name}: ${copy.message}`);
  const code = safelyRead(() => (cause as { code?: unknown }).code);
  if (typeof code === 'string') copy.code = redactForms(code, forms);
  else if (typeof code === 'number') copy.code = code;
  const errors = safelyRead(() => (cause as { errors?: unknown }).errors);
  if (Array.isArray(errors) && depth < MAX_CAUSE_DEPTH) copy.errors = errors.slice(0, MAX_AGGREGATED_ERRORS).map((item) => sanitizeCause(item, forms, depth + 1));
  return copy;
}

// A thrown object's getters are the thrower's code: one that throws must not turn a report into a crash.
function safelyRead(read: () => unknown): unknown {
  try {
    return read();
  } catch {
    return undefined;
  }
}

function safely(read: () => unknown): string {
  const value = safelyRead(read);
  return typeof value === 'string' ? value : value === undefined ? '' : safelyRead(() => String(value)) as string ?? '';
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return typeof name === 'string' && name !== '' ? name : 'Object';
}

/**
 * `members` with secrets redacted from the string members a server writes free text into (`error`,
 * `error_description`, `error_uri`), before any message is built from them: a message may shorten a description,
 * and a secret cut in two could no longer be found.
 */
export function redactErrorMembers<T extends Record<string, unknown>>(members: T, secrets: readonly string[]): T {
  const forms = secretForms(secrets);
  const redacted: Record<string, unknown> = { ...members };
  for (const name of ['error', 'error_description', 'error_uri']) {
    const value = redacted[name];
    if (typeof value === 'string') redacted[name] = redactForms(value, forms);
  }
  return redacted as T;
}
