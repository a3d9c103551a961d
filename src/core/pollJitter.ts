/**
 * The bounds of the poll jitter: the random delay the flow adds to the polling interval after each answer, so that
 * flows answered together do not poll together again one interval later (see `pollJitterDelay` in
 * machines/timing.ts, and docs/resilience.md, "No herd").
 *
 * @module
 * @see [RFC 8628 §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5): the interval is a minimum; waiting longer is allowed
 */

/**
 * The default bound of the poll jitter, in milliseconds: each poll waits the interval plus 0 to 40 ms (0.8 % of the
 * default 5 s interval). A garbage-collection pause of a Node.js process holding 10,000 flows lasts up to about 30
 * ms and bunches the timers due during it; 40 ms spreads such a bunch again at the next poll, and keeps the added
 * lateness well under 50 ms.
 */
export const DEFAULT_POLL_JITTER_MS = 40;

/** The largest bound the `pollJitter` setting accepts, in milliseconds: a poll never waits more than a second beyond the interval for it. */
export const MAX_POLL_JITTER_MS = 1000;
