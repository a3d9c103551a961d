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
 * Secrets shorter than this are not looked for: they cannot be told apart from ordinary words (a test token `at`
 * would turn "authorization" into "[redacted]horization"), and real tokens, codes and secrets are far longer.
 */
export const MIN_REDACTED_LENGTH = 8;

/** `text` with every occurrence of each secret replaced by {@link REDACTED}. */
export function redactText(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) if (secret.length >= MIN_REDACTED_LENGTH) result = result.split(secret).join(REDACTED);
  return result;
}

/**
 * `error` unchanged when it mentions none of `secrets`, otherwise a copy with them redacted from its message and server
 * fields; a `cause` that mentions one is dropped.
 */
export function redactSecrets(error: DeviceFlowError, secrets: readonly string[]): DeviceFlowError {
  const data = error.toData();
  const cause = error.cause;
  const causeLeaks = cause !== undefined && mentionsAny(describeCause(cause), secrets);
  const texts = [data.message, data.error, data.errorDescription, data.errorUri];
  if (!causeLeaks && !texts.some((text) => text !== undefined && mentionsAny(text, secrets))) return error;
  const fields = {
    ...(data.error === undefined ? {} : { error: redactText(data.error, secrets) }),
    ...(data.errorDescription === undefined ? {} : { errorDescription: redactText(data.errorDescription, secrets) }),
    ...(data.errorUri === undefined ? {} : { errorUri: redactText(data.errorUri, secrets) }),
    ...(data.status === undefined ? {} : { status: data.status }),
    ...(data.retryAfter === undefined ? {} : { retryAfter: data.retryAfter }),
  };
  return new DeviceFlowError(error.code, redactText(error.message, secrets), fields, causeLeaks || cause === undefined ? undefined : { cause });
}

/**
 * `members` with secrets redacted from the string members a server writes free text into (`error`,
 * `error_description`, `error_uri`), before any message is built from them: a message may shorten a description,
 * and a secret cut in two could no longer be found.
 */
export function redactErrorMembers<T extends Record<string, unknown>>(members: T, secrets: readonly string[]): T {
  const redacted: Record<string, unknown> = { ...members };
  for (const name of ['error', 'error_description', 'error_uri']) {
    const value = redacted[name];
    if (typeof value === 'string') redacted[name] = redactText(value, secrets);
  }
  return redacted as T;
}

function mentionsAny(text: string, secrets: readonly string[]): boolean {
  return secrets.some((secret) => secret.length >= MIN_REDACTED_LENGTH && text.includes(secret));
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) return `${cause.message}\n${cause.stack ?? ''}\n${describeCause(cause.cause ?? '')}`;
  try {
    return typeof cause === 'string' ? cause : JSON.stringify(cause) ?? String(cause);
  } catch {
    return String(cause);
  }
}
