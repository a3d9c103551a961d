/**
 * The clocks the class gives its actor: timers that do not keep Node.js alive once there is nothing left to wait for,
 * and timer callbacks that run as steps of their own.
 *
 * @module
 */

import type { ActorOptions, AnyActorLogic } from 'xstate';

/**
 * The clock interface of `createActor(logic, { clock })`. A clock that also has `now()`, such as XState's
 * `SimulatedClock`, is the statechart's source of time as well.
 */
export type Clock = NonNullable<ActorOptions<AnyActorLogic>['clock']> & { now?: () => number };

/**
 * A clock for the actor whose timers are `unref()`ed (where the platform has that) when `inBackground()` says so at
 * the time they are set. Once tokens are granted, only the refresh signal's timer is pending; it fires if the process
 * is still running but must not hold it open, or a script that got its token would wait until the token expires.
 */
export function backgroundAwareClock(inBackground: () => boolean): Clock {
  return {
    setTimeout(fn: (...args: unknown[]) => void, ms: number) {
      const timer = setTimeout(fn, ms);
      if (inBackground()) (timer as { unref?: () => void }).unref?.();
      return timer;
    },
    clearTimeout(id: unknown) {
      clearTimeout(id as ReturnType<typeof setTimeout>);
    },
  };
}

/** `clock`, with each timer callback run through `step`; its `now()` is kept. */
export function steppingClock(clock: Clock, step: (callback: () => void) => void): Clock {
  const stepping: Clock = {
    setTimeout: (fn, ms) => clock.setTimeout(() => step(fn), ms),
    clearTimeout: (id) => clock.clearTimeout(id),
  };
  if (typeof clock.now === 'function') stepping.now = () => clock.now!();
  return stepping;
}
