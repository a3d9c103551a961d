/**
 * The machine's only source of time.
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
