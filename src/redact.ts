/**
 * Keeps secrets out of errors. A server may echo the device code or the client secret in `error_description`, and a
 * modifier's exception may quote a token; none of it may reach a message, a log line or a serialised error.
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

/** One way a secret can appear in text, and whether it counts only when it stands alone. */
export interface SecretForm {
  text: string;
  alone: boolean;
}

/**
 * The forms in which `secrets` may come back in a server's text: as sent, percent-encoded (upper- or lower-case hex,
 * as a URL or a form body echoes it, `+` for a space), and JSON-escaped. Longer forms come first, so that a form that
 * contains another is replaced whole.
 */
export function secretForms(secrets: readonly string[]): SecretForm[] {
  const forms = new Map<string, boolean>();
  for (const secret of secrets) {
    if (secret.length < MIN_REDACTED_LENGTH) continue;
    const alone = secret.length < WHOLE_WORD_BELOW;
    for (const text of encodings(secret)) forms.set(text, (forms.get(text) ?? true) && alone);
  }
  return [...forms].map(([text, alone]) => ({ text, alone })).sort((a, b) => b.text.length - a.text.length);
}

// Characters that no encoding below changes: most tokens consist of these alone, and have one form.
const UNCHANGED_BY_ENCODING = /^[A-Za-z0-9_.!*'()-]*$/;

function encodings(secret: string): string[] {
  if (UNCHANGED_BY_ENCODING.test(secret)) return [secret];
  const percent = encodeURIComponent(secret);
  return [
    secret,
    percent,
    percent.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()),
    new URLSearchParams([['', secret]]).toString().slice(1),
    JSON.stringify(secret).slice(1, -1),
  ];
}

/** `text` with every occurrence of each of `forms` replaced by {@link REDACTED}. */
export function redactForms(text: string, forms: readonly SecretForm[]): string {
  let result = text;
  for (const form of forms) if (result.includes(form.text)) result = form.alone ? replaceAlone(result, form.text) : result.split(form.text).join(REDACTED);
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
 * `error` unchanged when it mentions none of `secrets`, otherwise a copy with them redacted from its message and server
 * fields; a `cause` that mentions one is dropped.
 */
export function redactSecrets(error: DeviceFlowError, secrets: readonly string[]): DeviceFlowError {
  const forms = secretForms(secrets);
  const mentions = (text: string | undefined) => text !== undefined && redactForms(text, forms) !== text;
  const data = error.toData();
  const cause = error.cause;
  const causeLeaks = cause !== undefined && mentions(describeCause(cause));
  if (!causeLeaks && ![data.message, data.error, data.errorDescription, data.errorUri].some(mentions)) return error;
  const fields = {
    ...(data.error === undefined ? {} : { error: redactForms(data.error, forms) }),
    ...(data.errorDescription === undefined ? {} : { errorDescription: redactForms(data.errorDescription, forms) }),
    ...(data.errorUri === undefined ? {} : { errorUri: redactForms(data.errorUri, forms) }),
    ...(data.status === undefined ? {} : { status: data.status }),
    ...(data.retryAfter === undefined ? {} : { retryAfter: data.retryAfter }),
  };
  return new DeviceFlowError(error.code, redactForms(error.message, forms), fields, causeLeaks || cause === undefined ? undefined : { cause });
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

function describeCause(cause: unknown): string {
  if (cause instanceof Error) return `${cause.message}\n${cause.stack ?? ''}\n${describeCause(cause.cause ?? '')}`;
  try {
    return typeof cause === 'string' ? cause : JSON.stringify(cause) ?? String(cause);
  } catch {
    return String(cause);
  }
}
