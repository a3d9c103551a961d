/**
 * Timers that do not keep a Node.js process alive while the flow has nothing left to wait for.
 *
 * @module
 */

import type { ActorOptions, AnyActorLogic } from 'xstate';

/** The clock interface of `createActor(logic, { clock })`. */
export type Clock = NonNullable<ActorOptions<AnyActorLogic>['clock']>;

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
