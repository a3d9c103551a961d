import { SimulatedClock } from 'xstate';

/**
 * XState's `SimulatedClock` set to `at`, as the statechart's source of time and of chance: its `random()` draws 0, so
 * the poll jitter adds nothing and polls go out exactly at the interval, as Qt's do (the times the conformance tests
 * assert). Tests of the jitter give a clock with a seeded `random()` instead.
 */
export function exactClock(at: number): SimulatedClock & { random(): number } {
  const clock = Object.assign(new SimulatedClock(), { random: () => 0 });
  clock.set(at);
  return clock;
}

/** A seeded source of numbers in [0, 1) (mulberry32): the same draws for the same seed, run after run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
