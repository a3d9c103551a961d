/**
 * Keeps secrets out of errors. A server may echo the device code or the client secret in `error_description`, and a
 * modifier's exception may quote a token; none of it may reach a message, a log line or a serialised error.
 *
 * @module
 */

import { DeviceFlowError } from './errors.js';

/** What stands in for a removed secret. */
export const REDACTED = '[redacted]';

/** `text` with every occurrence of each secret replaced by {@link REDACTED}. */
export function redactText(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) if (secret.length > 0) result = result.split(secret).join(REDACTED);
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
  if (!causeLeaks && !mentionsAny(JSON.stringify(data), secrets)) return error;
  const clean = (text: string | undefined) => (text === undefined ? undefined : redactText(text, secrets));
  const fields = {
    ...(data.error === undefined ? {} : { error: clean(data.error)! }),
    ...(data.errorDescription === undefined ? {} : { errorDescription: clean(data.errorDescription)! }),
    ...(data.errorUri === undefined ? {} : { errorUri: clean(data.errorUri)! }),
    ...(data.status === undefined ? {} : { status: data.status }),
  };
  return new DeviceFlowError(error.code, redactText(error.message, secrets), fields, causeLeaks || cause === undefined ? undefined : { cause });
}

function mentionsAny(text: string, secrets: readonly string[]): boolean {
  return secrets.some((secret) => secret.length > 0 && text.includes(secret));
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) return `${cause.message}\n${cause.stack ?? ''}\n${describeCause(cause.cause ?? '')}`;
  try {
    return typeof cause === 'string' ? cause : JSON.stringify(cause) ?? String(cause);
  } catch {
    return String(cause);
  }
}
