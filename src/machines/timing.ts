/**
 * Time arithmetic of the flow: polling intervals, timer delays and the refresh schedule. Pure functions of their
 * arguments.
 *
 * @module
 */

/** The longest delay a timer can take (2^31 − 1 ms); longer delays are re-armed when this one fires. */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** Seconds added to the polling interval by each `slow_down`. */
export const SLOW_DOWN_INCREMENT_SECONDS = 5;

/** Milliseconds from `now` until `at`, kept within what a timer can wait. */
export function delayUntil(at: number | null, now: number): number {
  if (at === null) return MAX_TIMER_DELAY_MS;
  return Math.min(Math.max(0, at - now), MAX_TIMER_DELAY_MS);
}

/**
 * The polling interval after a `slow_down`: five seconds more, or the interval the server sent with it when that is
 * longer (GitHub sends one, and it can be smaller than the accumulated interval).
 *
 * @see [RFC 8628 §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5)
 */
export function slowedDownInterval(current: number, fromServer: number | null): number {
  return Math.max(current + SLOW_DOWN_INCREMENT_SECONDS, fromServer ?? 0);
}

/**
 * The poll jitter: `boundMs` times `draw` (a number in [0, 1), as `Math.random()` returns) in whole milliseconds, so
 * from 0 to `boundMs`, added to the wait before a poll. It is never negative, so a poll is never early; a draw outside
 * [0, 1] (a faulty random source) counts as its nearest end, and `NaN` as 0.
 *
 * Why: flows answered together (a garbage-collection pause held their timers back, a server outage ended for all of
 * them at once) would otherwise poll together again one interval later, and every interval after; a small random
 * delay spreads them out again each time.
 *
 * @see [RFC 8628 §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5): the client waits at least the interval between polls
 */
export function pollJitterDelay(boundMs: number, draw: number): number {
  if (!(boundMs > 0) || !(draw > 0)) return 0;
  // Whole milliseconds: the times in the context stay those of the clock, to the millisecond.
  return Math.floor(boundMs * Math.min(draw, 1));
}

/** The longest back-off after transport faults, in milliseconds. */
export const MAX_BACK_OFF_MS = 60_000;

/**
 * Milliseconds to wait after the `faults`-th consecutive transport fault: the interval doubled per fault (twice the
 * interval after the first) up to {@link MAX_BACK_OFF_MS}, but never less than the interval or `Retry-After`.
 *
 * @see [RFC 8628 §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5)
 */
export function backOffDelay(intervalSeconds: number, faults: number, retryAfterSeconds: number | null): number {
  const interval = intervalSeconds * 1000;
  const backOff = Math.min(MAX_BACK_OFF_MS, interval * 2 ** Math.min(faults, 30));
  return Math.max(interval, backOff, (retryAfterSeconds ?? 0) * 1000);
}

// The refresh signal's constants (docs/qt-behaviour.md, "The refresh signal"): the smallest lead time, and the
// shortest wait after a token response.
const MIN_REFRESH_LEAD_SECONDS = 10;
const FALLBACK_REFRESH_WAIT_SECONDS = 2;

/**
 * When `accessTokenAboutToExpire` should fire, as Qt 6.9 schedules it (`QAbstractOAuth2::updateRefreshTimer`).
 *
 * - With a lead time of 0, or one not shorter than the token's lifetime, the lead is 5 % of the remaining lifetime,
 *   at least 10 s.
 * - If that leaves less than 10 s: an application-side change (`clientSide`) fires at once; a server-side update
 *   waits at least 2 s, so that a server issuing short-lived tokens cannot cause a refresh storm.
 *
 * @returns the epoch-ms time to fire at, or `null` when the token has no known expiry.
 */
export function refreshSignalAt(args: {
  now: number;
  expirationAt: number | null;
  refreshLeadTime: number;
  tokenLifetime: number | null;
  clientSide: boolean;
}): number | null {
  const { now, expirationAt, tokenLifetime, clientSide } = args;
  if (expirationAt === null) return null;
  const remaining = Math.trunc((expirationAt - now) / 1000);
  let lead = args.refreshLeadTime;
  if (lead === 0 || (tokenLifetime !== null && lead >= tokenLifetime)) {
    lead = Math.max(MIN_REFRESH_LEAD_SECONDS, Math.trunc(remaining / 20));
  }
  let wait = remaining - lead;
  if (wait < MIN_REFRESH_LEAD_SECONDS) {
    if (clientSide) return now;
    wait = Math.max(wait, FALLBACK_REFRESH_WAIT_SECONDS);
  }
  return now + wait * 1000;
}
