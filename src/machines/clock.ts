/**
 * The machine's only source of time, and of chance.
 *
 * @module
 */

import type { AnyActorRef } from 'xstate';

/**
 * The current time in epoch milliseconds, read from the clock the actor was created with
 * (`createActor(machine, { clock })`): a clock with a `now()` method, such as XState's `SimulatedClock`, is used;
 * otherwise the wall clock. Timestamps in the context and the delays derived from them therefore agree with whichever
 * clock fires the delayed transitions.
 */
export function readClock(self: AnyActorRef): number {
  const clock = (self as { clock?: { now?: () => number } }).clock;
  return typeof clock?.now === 'function' ? clock.now() : Date.now();
}

/**
 * A number in [0, 1) for the poll jitter, drawn from the `random()` of the clock the actor was created with when it
 * has one (a seeded source makes tests under `SimulatedClock` deterministic); otherwise from `Math.random()`.
 */
export function drawRandom(self: AnyActorRef): number {
  const clock = (self as { clock?: { random?: () => number } }).clock;
  return typeof clock?.random === 'function' ? clock.random() : Math.random();
}
