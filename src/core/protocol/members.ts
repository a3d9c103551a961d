/**
 * Typed readers for response members, tolerant of the spellings real servers use (numbers sent as strings, form
 * bodies where everything is a string).
 *
 * @module
 */

import { DeviceFlowError, type OAuthErrorFields } from '../errors.js';
import type { ResponseMembers } from './responseBody.js';

/** The longest duration, in seconds, taken from a server: one day. Longer values are treated as one day. */
export const MAX_SERVER_DURATION_SECONDS = 86_400;

const NUMERIC = /^\s*[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?\s*$/;

/** An OAuth error response: the `error` member is always there. */
export type OAuthErrorResponse = OAuthErrorFields & { error: string };

/** A non-empty string member, or `null`. */
export function readNonEmptyString(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

/**
 * A positive number given as a JSON number or a numeric string (`"1800"`); `null` when absent, zero, negative, not
 * finite or not a number.
 */
export function readPositiveNumber(value: unknown): number | null {
  const number = typeof value === 'number' ? value : typeof value === 'string' && NUMERIC.test(value) ? Number(value) : NaN;
  return Number.isFinite(number) && number > 0 ? number : null;
}

/**
 * A positive duration in seconds as {@link readPositiveNumber} reads it, capped at
 * {@link MAX_SERVER_DURATION_SECONDS}.
 */
export function readPositiveSeconds(value: unknown): number | null {
  const seconds = readPositiveNumber(value);
  return seconds === null ? null : Math.min(seconds, MAX_SERVER_DURATION_SECONDS);
}

/**
 * The OAuth error members of a response, or `null` when it has no `error` member.
 *
 * @throws {DeviceFlowError} `ServerError` when `error` is present but not a non-empty string.
 * @see [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)
 */
export function readOAuthError(members: ResponseMembers, status?: number): OAuthErrorResponse | null {
  if (!('error' in members)) return null;
  const error = readNonEmptyString(members.error);
  if (error === null) {
    throw new DeviceFlowError('ServerError', 'The server sent an error response with an invalid "error" member', { status });
  }
  const fields: OAuthErrorResponse = { error };
  const description = readNonEmptyString(members.error_description);
  const uri = readNonEmptyString(members.error_uri);
  if (description !== null) fields.errorDescription = description;
  if (uri !== null) fields.errorUri = uri;
  if (status !== undefined) fields.status = status;
  return fields;
}

/** The members of `members` whose names are not in `known`. */
export function extraMembers(members: ResponseMembers, known: ReadonlySet<string>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(members).filter(([name]) => !known.has(name)));
}

