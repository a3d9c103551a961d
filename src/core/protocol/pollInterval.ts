/**
 * The polling interval of the device flow: its default, its floor, and reading it from a response.
 *
 * @module
 * @see [RFC 8628 §3.2, §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.2)
 */

import { readPositiveSeconds } from './members.js';

/** The polling interval, in seconds, when the server sends none (RFC 8628 §3.2). */
export const DEFAULT_POLL_INTERVAL_SECONDS = 5;

/** The shortest polling interval, in seconds, taken from a server; shorter ones are raised to it. */
export const MIN_POLL_INTERVAL_SECONDS = 1;

/**
 * A polling interval from an `interval` member: at least {@link MIN_POLL_INTERVAL_SECONDS}, at most one day; `null`
 * when the member is absent or unusable.
 */
export function readPollInterval(value: unknown): number | null {
  const seconds = readPositiveSeconds(value);
  return seconds === null ? null : Math.max(seconds, MIN_POLL_INTERVAL_SECONDS);
}
