/**
 * The clocks the statechart's timers run on: timers that never fire early, that do not keep Node.js alive once there
 * is nothing left to wait for, and whose callbacks run as steps of their own.
 *
 * @module
 */

import type { ActorOptions, AnyActorLogic } from 'xstate';
import { MAX_TIMER_DELAY_MS } from '../machines/timing.js';

/**
 * The clock interface of `createActor(logic, { clock })`. A clock that also has `now()`, such as XState's
 * `SimulatedClock`, is the statechart's source of time as well; one that has `random()` (numbers in [0, 1)) is the
 * source of the poll jitter (`pollJitter`), e.g. a seeded one in tests; `Math.random()` otherwise.
 *
 * @see [XState delayed transitions](https://stately.ai/docs/delayed-transitions)
 */
export type Clock = NonNullable<ActorOptions<AnyActorLogic>['clock']> & { now?: () => number; random?: () => number };

/** How far the wall clock may move against the monotonic clock (NTP slewing, rounding) before it counts as a jump. */
const JUMP_MS = 1_000;
/** How often the watchdog looks for a jump while timers are pending: a wake-up is noticed within this. */
const WATCHDOG_MS = 1_000;

/** A wall clock and a monotonic clock, and the offset between them that `now()` adds to the monotonic clock. */
interface TimeBase {
  readonly wallClock: () => number;
  readonly monotonicClock: () => number;
  /** Wall-clock time minus monotonic time, as last anchored. */
  offset: number;
  readonly pending: Set<PreciseTimer>;
}

class PreciseTimer {
  /** The platform timer; `undefined` while the timer is deciding whether to fire. */
  handle: ReturnType<typeof setTimeout> | undefined = undefined;
  /** The same closure on every re-arm, so re-arming allocates no callback. */
  readonly fire = () => fire(this);

  constructor(
    readonly base: TimeBase,
    readonly fn: () => void,
    readonly inBackground: () => boolean,
    /** When to fire, on the monotonic clock; only ever brought forward. */
    public due: number,
    /** When to fire, on the wall clock. */
    readonly deadline: number,
    /** What runs `fn` as a step of its own, for a {@link steppingClock} over this clock; none runs it directly. */
    readonly stepper: Stepper | undefined,
  ) {}
}

/** The time bases with pending timers: the only ones the watchdog reads. */
const watched = new Set<TimeBase>();
let watchdog: ReturnType<typeof setInterval> | undefined;
/** Shared by every clock on the system's own time sources, so 10,000 flows cost the watchdog one check. */
let systemBase: TimeBase | undefined;

const systemWallClock = () => Date.now();
const systemMonotonicClock = () => performance.now();
const inForeground = () => false;
const checkEveryBase = () => watched.forEach(observe);

function createTimeBase(wallClock: () => number, monotonicClock: () => number): TimeBase {
  return { wallClock, monotonicClock, offset: wallClock() - monotonicClock(), pending: new Set() };
}

/**
 * Re-anchors `base` when its wall clock has jumped against its monotonic clock (standby, NTP step), and re-arms its
 * pending timers for the new offset; returns the monotonic time it read.
 */
function observe(base: TimeBase): number {
  const monotonic = base.monotonicClock();
  const drift = base.wallClock() - monotonic - base.offset;
  if (drift > JUMP_MS || drift < -JUMP_MS) {
    base.offset += drift;
    base.pending.forEach(rearmAfterJump);
  }
  return monotonic;
}

/** The earlier of the timer's monotonic due time and its wall deadline: a backward step never delays a timer. */
function rearmAfterJump(timer: PreciseTimer): void {
  // A timer in the middle of firing settles its own due time once the jump is handled.
  if (timer.handle === undefined) return;
  timer.due = Math.min(timer.due, timer.deadline - timer.base.offset);
  arm(timer);
}

function arm(timer: PreciseTimer): void {
  clearTimeout(timer.handle);
  const left = Math.ceil(timer.due - timer.base.monotonicClock());
  // Node fires at once for a delay over its maximum; a longer wait is re-armed when this one ends.
  timer.handle = setTimeout(timer.fire, Math.min(Math.max(0, left), MAX_TIMER_DELAY_MS));
  if (timer.inBackground()) (timer.handle as { unref?: () => void }).unref?.();
}

function fire(timer: PreciseTimer): void {
  timer.handle = undefined;
  const { base } = timer;
  // A standby ends with whichever timer fires first: look for the jump before trusting the monotonic due time.
  observe(base);
  timer.due = Math.min(timer.due, timer.deadline - base.offset);
  // Platform timers may fire up to a millisecond early: wait out the rest.
  if (timer.due > base.monotonicClock()) return arm(timer);
  settle(timer);
  if (timer.stepper === undefined) timer.fn();
  else timer.stepper.step(timer.fn);
}

function track(timer: PreciseTimer): void {
  const { pending } = timer.base;
  pending.add(timer);
  if (pending.size === 1) watched.add(timer.base);
  if (watchdog !== undefined) return;
  watchdog = setInterval(checkEveryBase, WATCHDOG_MS);
  // The pending timers keep the process alive if they should; the watchdog alone must not.
  (watchdog as { unref?: () => void }).unref?.();
}

function settle(timer: PreciseTimer): void {
  const { pending } = timer.base;
  pending.delete(timer);
  if (pending.size > 0) return;
  watched.delete(timer.base);
  if (watched.size > 0 || watchdog === undefined) return;
  clearInterval(watchdog);
  watchdog = undefined;
}

/**
 * A clock whose absolute times are wall-clock times and whose timers never fire before their time.
 *
 * `now()` is the wall clock with sub-millisecond resolution: the monotonic clock plus an offset, re-anchored whenever
 * the wall clock jumps by more than a second against the monotonic clock (the monotonic clock stands still during a
 * standby, and an NTP step moves only the wall clock). The times the statechart stores, such as the user code's expiry,
 * therefore stay true in a snapshot resumed after a restart, on this machine or another.
 *
 * Timers count on the monotonic clock: platform timers count whole milliseconds and may fire up to one early, and
 * `Date.now()` read twice may tick in between, so a poll "one interval later" could leave a millisecond early; an
 * early poll earns `slow_down` from strict servers such as GitHub. A timer checks the monotonic clock when it fires
 * and waits out any rest. After a jump every pending timer is re-armed for the earlier of its monotonic due time and
 * its wall-clock deadline: after a standby or a forward step the deadlines that passed fire at once, and a backward
 * step delays nothing. One watchdog for the whole process (an `unref()`'d one-second interval, running only while a
 * timer is pending) notices a jump while no timer fires; a firing timer and `now()` notice it too.
 *
 * @param options `inBackground`, asked when a timer is set: `true` makes the timer not keep a Node.js process alive
 *   (`unref()`). A function given instead of the options is `inBackground`.
 * @param options.inBackground whether a timer set now is a background one; never, by default.
 * @param options.wallClock the wall clock in epoch milliseconds; `Date.now()` by default.
 * @param options.monotonicClock a clock that only moves forward, in milliseconds; `performance.now()` by default.
 *   Clocks on the default time sources share one anchor.
 * @see [performance.now()](https://nodejs.org/api/perf_hooks.html#performancenow), the monotonic clock
 * @see [RFC 8628 §3.2](https://www.rfc-editor.org/rfc/rfc8628#section-3.2) for the `interval` between polls
 * @see [RFC 8628 §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5) for `slow_down` and the polling interval
 * @see [XState delayed transitions](https://stately.ai/docs/delayed-transitions)
 * @example
 * ```ts
 * createActor(deviceAuthorizationMachine, { input, clock: createPreciseClock() });
 * ```
 */
export function createPreciseClock(
  options: (() => boolean) | { inBackground?: () => boolean; wallClock?: () => number; monotonicClock?: () => number } = {},
): Clock {
  const settings: Exclude<typeof options, () => boolean> = typeof options === 'function' ? { inBackground: options } : options;
  const { inBackground = inForeground, wallClock, monotonicClock } = settings;
  const base =
    wallClock === undefined && monotonicClock === undefined
      ? (systemBase ??= createTimeBase(systemWallClock, systemMonotonicClock))
      : createTimeBase(wallClock ?? systemWallClock, monotonicClock ?? systemMonotonicClock);
  return new PreciseClock(base, inBackground);
}

/**
 * What {@link createPreciseClock} returns: its methods on the prototype, so that a clock per flow costs two fields,
 * not three closures. Called as methods (`clock.now()`), as XState and the statechart call them.
 */
class PreciseClock implements Clock {
  readonly #base: TimeBase;
  readonly #inBackground: () => boolean;

  constructor(base: TimeBase, inBackground: () => boolean) {
    this.#base = base;
    this.#inBackground = inBackground;
  }

  now(): number {
    const monotonic = observe(this.#base);
    return this.#base.offset + monotonic;
  }

  setTimeout(fn: (...args: unknown[]) => void, ms: number): PreciseTimer {
    return this.steppedTimeout(fn, ms, undefined);
  }

  /** `setTimeout`, with `fn` run through `stepper` when it fires: a {@link SteppingClock}'s timer without a closure. */
  steppedTimeout(fn: () => void, ms: number, stepper: Stepper | undefined): PreciseTimer {
    const base = this.#base;
    const due = observe(base) + (ms > 0 ? ms : 0);
    const timer = new PreciseTimer(base, fn, this.#inBackground, due, base.offset + due, stepper);
    track(timer);
    arm(timer);
    return timer;
  }

  clearTimeout(id: unknown): void {
    const timer = id as PreciseTimer | null | undefined;
    if (!(timer instanceof PreciseTimer) || !timer.base.pending.has(timer)) return;
    clearTimeout(timer.handle);
    timer.handle = undefined;
    settle(timer);
  }
}

/** What runs a timer's callback as a step of its own (the class's signal delivery). */
export interface Stepper {
  step(work: () => void): void;
}

/**
 * `clock`, with each timer callback run through `stepper.step`; its `now()` and `random()` are kept (when it has none,
 * the wall clock and `Math.random()`, as the statechart reads a clock without them).
 */
export function steppingClock(clock: Clock, stepper: Stepper): Clock {
  return new SteppingClock(clock, stepper);
}

/** A clock per flow that costs two fields: its methods are on the prototype, not closures per flow. */
class SteppingClock implements Clock {
  readonly #clock: Clock;
  readonly #stepper: Stepper;

  constructor(clock: Clock, stepper: Stepper) {
    this.#clock = clock;
    this.#stepper = stepper;
  }

  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown {
    const clock = this.#clock;
    const stepper = this.#stepper;
    // The precise clock carries the stepper in its timer: no closure per timer.
    if (clock instanceof PreciseClock) return clock.steppedTimeout(fn, ms, stepper);
    return clock.setTimeout(() => stepper.step(fn), ms);
  }

  clearTimeout(id: unknown): void {
    this.#clock.clearTimeout(id as never);
  }

  now(): number {
    return typeof this.#clock.now === 'function' ? this.#clock.now() : Date.now();
  }

  random(): number {
    return typeof this.#clock.random === 'function' ? this.#clock.random() : Math.random();
  }
}
