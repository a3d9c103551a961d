/**
 * The clocks the statechart's timers run on: timers that never fire early, that do not keep Node.js alive once there
 * is nothing left to wait for, and whose callbacks run as steps of their own.
 *
 * @module
 */

import type { ActorOptions, AnyActorLogic } from 'xstate';

/**
 * The clock interface of `createActor(logic, { clock })`. A clock that also has `now()`, such as XState's
 * `SimulatedClock`, is the statechart's source of time as well.
 *
 * @see [XState delayed transitions](https://stately.ai/docs/delayed-transitions)
 */
export type Clock = NonNullable<ActorOptions<AnyActorLogic>['clock']> & { now?: () => number };

interface PreciseTimer {
  handle?: ReturnType<typeof setTimeout>;
}

/**
 * A clock whose timers never fire before their time. Platform timers count whole milliseconds and may fire up to one
 * early, and `Date.now()` read twice may tick in between, so a poll "one interval later" could leave a millisecond
 * early; an early poll earns `slow_down` from strict servers such as GitHub. This clock's `now()` has sub-millisecond
 * resolution (the monotonic clock, anchored to the wall clock when the process started), and its timers check that
 * clock when they fire and wait out any rest.
 *
 * @param inBackground asked when a timer is set: `true` makes the timer not keep a Node.js process alive (`unref()`).
 * @see [RFC 8628 §3.2](https://www.rfc-editor.org/rfc/rfc8628#section-3.2) for the `interval` between polls
 * @see [RFC 8628 §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5) for `slow_down`
 * @see [XState delayed transitions](https://stately.ai/docs/delayed-transitions)
 * @example
 * ```ts
 * createActor(deviceAuthorizationMachine, { input, clock: createPreciseClock() });
 * ```
 */
export function createPreciseClock(inBackground: () => boolean = () => false): Clock {
  return {
    now: () => performance.timeOrigin + performance.now(),
    setTimeout(fn: (...args: unknown[]) => void, ms: number): PreciseTimer {
      const due = performance.now() + ms;
      const timer: PreciseTimer = {};
      const arm = (delay: number) => {
        timer.handle = setTimeout(() => {
          const left = due - performance.now();
          if (left > 0) arm(Math.ceil(left));
          else fn();
        }, delay);
        if (inBackground()) (timer.handle as { unref?: () => void }).unref?.();
      };
      arm(ms);
      return timer;
    },
    clearTimeout(timer: unknown) {
      clearTimeout((timer as PreciseTimer).handle);
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
