import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
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

/** A seeded source of numbers in [0, 1) (pure-rand's xoroshiro128+, as fast-check uses): the same draws for the same seed, run after run. */
export function seededRandom(seed: number): () => number {
  const generator = xoroshiro128plus(seed);
  return () => uniformFloat64(generator);
}
