import { afterEach, describe, expect, it, vi } from 'vitest';
import { createPreciseClock } from '../src/clocks.js';

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

describe('createPreciseClock', () => {
  afterEach(() => vi.unstubAllGlobals());

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
});
