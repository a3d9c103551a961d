/**
 * The default clock of every flow: absolute times on the wall clock, timers on the monotonic clock that never fire
 * early, re-armed when the wall clock jumps (standby, NTP step), and one watchdog for the whole process.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createPreciseClock } from '../src/flow/clocks.js';
import type { DeviceFlowError } from '../src/core/errors.js';
import { OAuth2DeviceAuthorizationFlow } from '../src/flow/oauth2DeviceAuthorizationFlow.js';
import { deviceAuthorizationReply, nextSignal, pending } from './helpers/flowHarness.js';
import { LoopbackServer } from './helpers/loopbackServer.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** How many of `count` timers of 2 ms fired before 2 ms had passed on the monotonic clock. */
async function earlyFirings(setTimer: (fn: () => void, ms: number) => unknown, count = 100): Promise<number> {
  let early = 0;
  for (let index = 0; index < count; index++) {
    await new Promise<void>((resolve) => {
      const due = performance.now() + 2;
      setTimer(() => {
        if (performance.now() < due) early++;
        resolve();
      }, 2);
    });
  }
  return early;
}

/** Platform timers that fire up to a millisecond early, as Node's do now and then (they count whole milliseconds). */
function makePlatformTimersEarly(): void {
  const platformSetTimeout = globalThis.setTimeout;
  vi.stubGlobal('setTimeout', (fn: () => void, ms: number) => platformSetTimeout(fn, Math.max(0, ms - 1)));
}

/** Timers that keep Node running (an `unref()`'d one does not count). */
const refedTimers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

/**
 * A machine on vitest's fake timers whose wall clock can be moved apart from its monotonic clock: in a standby the
 * monotonic clock and the timers stand still while the wall clock runs on; an NTP step moves the wall clock alone.
 */
function fakeHost() {
  const start = Date.UTC(2025, 0, 1);
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: start });
  let wallShift = 0;
  const wallClock = () => Date.now() + wallShift;
  return {
    wallClock,
    sources: { wallClock, monotonicClock: () => Date.now() - start },
    /** The machine sleeps for `ms`: nothing runs, the monotonic clock stands still. */
    standby: (ms: number) => void (wallShift += ms),
    stepWallClock: (ms: number) => void (wallShift += ms),
  };
}

describe('createPreciseClock', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  describe('without a jump', () => {
    it('never fires early, even when the platform timers do', async () => {
      makePlatformTimersEarly();
      expect(await earlyFirings((fn, ms) => setTimeout(fn, ms))).toBeGreaterThan(0);
      const clock = createPreciseClock();
      expect(await earlyFirings((fn, ms) => clock.setTimeout(fn, ms))).toBe(0);
    });

    it('can be cleared', async () => {
      const clock = createPreciseClock();
      let fired = false;
      const timer = clock.setTimeout(() => (fired = true), 5);
      clock.clearTimeout(timer);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(fired).toBe(false);
    });

    it('has sub-millisecond resolution, and lets the wall clock drift up to a second before re-anchoring', () => {
      let wall = 1_700_000_000_000;
      let monotonic = 10.25;
      const clock = createPreciseClock({ wallClock: () => wall, monotonicClock: () => monotonic });
      expect(clock.now!()).toBe(1_700_000_000_000);
      monotonic += 0.5;
      expect(clock.now!()).toBe(1_700_000_000_000.5);
      // Slewing and whole-millisecond ticks are no jump: `now()` keeps counting on the monotonic clock.
      wall += 1_000;
      expect(clock.now!()).toBe(1_700_000_000_000.5);
      wall += 1;
      expect(clock.now!()).toBe(1_700_000_001_001);
    });

    it('keeps a timer on its monotonic time while the wall clock only drifts', () => {
      const host = fakeHost();
      const clock = createPreciseClock(host.sources);
      const fired = vi.fn();
      clock.setTimeout(fired, 5 * SECOND);
      host.stepWallClock(900);
      vi.advanceTimersByTime(5 * SECOND - 1);
      expect(fired).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      expect(fired).toHaveBeenCalledOnce();
    });
  });

  describe('after a standby or a clock step', () => {
    it('reads the wall clock after a 2 h standby, so a deadline set then is still right in a fresh process', () => {
      const host = fakeHost();
      const clock = createPreciseClock(host.sources);
      vi.advanceTimersByTime(MINUTE);
      expect(clock.now!()).toBe(host.wallClock());
      host.standby(2 * HOUR);
      // What the statechart stores as `userCodeExpirationAt` for a code that lasts 15 minutes.
      const expiry = clock.now!() + 15 * MINUTE;
      expect(expiry - host.wallClock()).toBe(15 * MINUTE);
      // A process started now, with its own monotonic clock, resumes the snapshot: the 15 minutes are left.
      const fresh = createPreciseClock({ wallClock: host.wallClock, monotonicClock: () => 0.125 });
      expect(expiry - fresh.now!()).toBe(15 * MINUTE);
    });

    it('fires a 10 min timer within the watchdog period after a 2 h standby, not 10 min later', () => {
      const host = fakeHost();
      const clock = createPreciseClock(host.sources);
      const fired = vi.fn();
      clock.setTimeout(fired, 10 * MINUTE);
      vi.advanceTimersByTime(MINUTE);
      host.standby(2 * HOUR);
      expect(fired).not.toHaveBeenCalled();
      // The watchdog's next tick sees the jump; the re-armed timer fires a millisecond later, as `setTimeout(fn, 0)` does.
      vi.advanceTimersByTime(SECOND + 1);
      expect(fired).toHaveBeenCalledOnce();
      expect(vi.getTimerCount()).toBe(0);
    });

    it('brings a timer forward by a forward step, to its wall-clock deadline', () => {
      const host = fakeHost();
      const clock = createPreciseClock(host.sources);
      const fired = vi.fn();
      clock.setTimeout(fired, 10 * MINUTE);
      host.stepWallClock(MINUTE);
      vi.advanceTimersByTime(9 * MINUTE - 1);
      expect(fired).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      expect(fired).toHaveBeenCalledOnce();
    });

    it('does not delay a 5 s timer by a backward step of 1 h', () => {
      const host = fakeHost();
      const clock = createPreciseClock(host.sources);
      const fired = vi.fn();
      clock.setTimeout(fired, 5 * SECOND);
      vi.advanceTimersByTime(2 * SECOND);
      host.stepWallClock(-HOUR);
      vi.advanceTimersByTime(2 * SECOND);
      // The jump was seen: `now()` reads the wall clock again.
      expect(clock.now!()).toBe(host.wallClock());
      vi.advanceTimersByTime(SECOND - 1);
      expect(fired).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      expect(fired).toHaveBeenCalledOnce();
    });

    it('notices a standby when any timer fires, before the watchdog does', () => {
      const host = fakeHost();
      const clock = createPreciseClock(host.sources);
      const short = vi.fn();
      const long = vi.fn();
      clock.setTimeout(short, 500);
      clock.setTimeout(long, 10 * MINUTE);
      vi.advanceTimersByTime(100);
      host.standby(2 * HOUR);
      vi.advanceTimersByTime(401);
      expect(short).toHaveBeenCalledOnce();
      expect(long).toHaveBeenCalledOnce();
    });

    it('notices a standby when now() is read', () => {
      let wall = 1_700_000_000_000;
      const monotonic = () => 0;
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
      const clock = createPreciseClock({ wallClock: () => wall, monotonicClock: monotonic });
      const fired = vi.fn();
      clock.setTimeout(fired, 10 * MINUTE);
      wall += 2 * HOUR;
      clock.now!();
      vi.advanceTimersByTime(0);
      expect(fired).toHaveBeenCalledOnce();
    });
  });

  describe('the watchdog', () => {
    it('is one interval for every clock, running only while a timer is pending', () => {
      fakeHost();
      const clocks = [createPreciseClock(), createPreciseClock(() => true), createPreciseClock({ inBackground: () => false })];
      expect(vi.getTimerCount()).toBe(0);
      const timers = clocks.map((clock) => clock.setTimeout(() => undefined, 10 * MINUTE));
      // Three timers and one watchdog.
      expect(vi.getTimerCount()).toBe(4);
      clocks[0]!.clearTimeout(timers[0]);
      clocks[1]!.clearTimeout(timers[1]);
      expect(vi.getTimerCount()).toBe(2);
      clocks[2]!.clearTimeout(timers[2]);
      expect(vi.getTimerCount()).toBe(0);
      // Clearing twice, or clearing nothing, changes nothing.
      clocks[2]!.clearTimeout(timers[2]);
      clocks[2]!.clearTimeout(undefined);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('stops once the last timer has fired', () => {
      const host = fakeHost();
      const clocks = [createPreciseClock(host.sources), createPreciseClock(host.sources)];
      clocks[0]!.setTimeout(() => undefined, 3 * SECOND);
      clocks[1]!.setTimeout(() => undefined, 5 * SECOND);
      expect(vi.getTimerCount()).toBe(3);
      vi.advanceTimersByTime(3 * SECOND);
      expect(vi.getTimerCount()).toBe(2);
      vi.advanceTimersByTime(2 * SECOND);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('keeps no process alive: only a foreground timer does', () => {
      const before = refedTimers();
      const background = createPreciseClock(() => true);
      const backgroundTimer = background.setTimeout(() => undefined, 10 * MINUTE);
      expect(refedTimers()).toBe(before);
      const foreground = createPreciseClock({ inBackground: () => false });
      const foregroundTimer = foreground.setTimeout(() => undefined, 10 * MINUTE);
      expect(refedTimers()).toBe(before + 1);
      foreground.clearTimeout(foregroundTimer);
      background.clearTimeout(backgroundTimer);
      expect(refedTimers()).toBe(before);
    });
  });
});

describe('a flow on the precise clock', () => {
  let server: LoopbackServer;
  beforeAll(async () => {
    server = await LoopbackServer.start();
    server.handle('/device', deviceAuthorizationReply({ interval: 5, expires_in: 600 }));
    server.handle('/token', pending);
  });
  afterAll(() => server.close());

  const endpoints = () => ({ authorizationUrl: server.url('/device'), tokenUrl: server.url('/token'), clientIdentifier: 'tv-app' });

  it('started after a 2 h standby, keeps its code for a fresh process that resumes it', async () => {
    let wallShift = 0;
    const wallClock = () => Date.now() + wallShift;
    const clock = createPreciseClock({ wallClock });
    clock.now!();
    wallShift = 2 * HOUR;
    const flow = new OAuth2DeviceAuthorizationFlow({ ...endpoints(), clock });
    flow.grant();
    await nextSignal(flow, 'authorizeWithUserCode');
    const left = flow.userCodeExpirationAt!.getTime() - wallClock();
    expect(left).toBeGreaterThan(599 * SECOND);
    expect(left).toBeLessThanOrEqual(600 * SECOND);
    const snapshot = JSON.stringify(flow.snapshot());
    flow.dispose();

    const freshClock = createPreciseClock({ wallClock, monotonicClock: () => performance.now() - 7 * HOUR });
    const resumed = new OAuth2DeviceAuthorizationFlow({ ...endpoints(), snapshot, clock: freshClock });
    const failures: DeviceFlowError[] = [];
    resumed.on('requestFailed', (error) => failures.push(error));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(failures).toEqual([]);
    expect(resumed).toMatchObject({ status: 'TemporaryCredentialsReceived', polling: true, userCode: 'WDJB-MJHT' });
    resumed.dispose();
  });

  it('settles a code that expired during a standby within a second of waking', async () => {
    let wallShift = 0;
    const clock = createPreciseClock({ wallClock: () => Date.now() + wallShift });
    const flow = new OAuth2DeviceAuthorizationFlow({ ...endpoints(), clock });
    flow.grant();
    await nextSignal(flow, 'authorizeWithUserCode');
    const polls = server.requestsTo('/token').length;
    const failed = nextSignal(flow, 'requestFailed');
    const woke = performance.now();
    wallShift = 2 * HOUR;
    const [error] = await failed;
    expect(performance.now() - woke).toBeLessThan(1_500);
    expect(error.code).toBe('ExpiredError');
    expect(server.requestsTo('/token')).toHaveLength(polls);
    flow.dispose();
  });
});
