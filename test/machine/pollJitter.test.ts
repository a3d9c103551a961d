/**
 * The poll jitter (docs/resilience.md, "No herd"): a random delay of 0 to `pollJitter` ms added to the interval
 * before each poll, never subtracted (RFC 8628 §3.5), so that flows answered together do not poll together again.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeviceFlowError } from '../../src/core/errors.js';
import { DEFAULT_POLL_JITTER_MS, MAX_POLL_JITTER_MS } from '../../src/core/pollJitter.js';
import { backOffDelay, pollJitterDelay } from '../../src/machines/timing.js';
import { sampleAuthorization } from '../helpers/deferredActors.js';
import { seededRandom } from '../helpers/exactClock.js';
import { answer, defaultInput, fail, startMachine, T0 } from '../helpers/machineHarness.js';

/** A machine flow whose device authorization was answered at T0, drawing its jitter from `random`. */
async function authorized(random: () => number, input = defaultInput, interval = 5) {
  const flow = startMachine(input, { random });
  flow.actor.send({ type: 'GRANT' });
  await answer(flow.requestDeviceAuthorization.last, sampleAuthorization({ interval }));
  return flow;
}

/** Lets simulated time pass until the next poll goes out, and returns when it did. */
function runToNextPoll(flow: Awaited<ReturnType<typeof authorized>>): number {
  const polls = flow.pollToken.calls.length;
  flow.clock.set(flow.context().nextPollAt!);
  expect(flow.pollToken.calls).toHaveLength(polls + 1);
  return flow.pollToken.last.startedAt;
}

describe('pollJitterDelay', () => {
  it('scales a draw in [0, 1) to 0 … bound whole ms', () => {
    expect(pollJitterDelay(40, 0)).toBe(0);
    expect(pollJitterDelay(40, 0.5)).toBe(20);
    expect(pollJitterDelay(40, 0.999)).toBe(39);
    expect(pollJitterDelay(40.5, 0.999)).toBe(40);
  });

  it('adds nothing when off, and never a negative delay or more than the bound from a faulty source', () => {
    expect(pollJitterDelay(0, 0.7)).toBe(0);
    expect(pollJitterDelay(40, -0.5)).toBe(0);
    expect(pollJitterDelay(40, Number.NaN)).toBe(0);
    expect(pollJitterDelay(40, 7)).toBe(40);
    expect(pollJitterDelay(40, Number.POSITIVE_INFINITY)).toBe(40);
    expect(pollJitterDelay(Number.NaN, 0.5)).toBe(0);
  });

  it('is within [0, bound] for any bound and any draw (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: MAX_POLL_JITTER_MS, noNaN: true }), fc.double(), (bound, draw) => {
        const delay = pollJitterDelay(bound, draw);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(bound);
      }),
    );
  });
});

describe('the poll jitter in the statechart (RFC 8628 §3.5)', () => {
  it('is on by default, within its documented bound', () => {
    const flow = startMachine({ ...defaultInput });
    expect(flow.context().pollJitter).toBe(DEFAULT_POLL_JITTER_MS);
    expect(DEFAULT_POLL_JITTER_MS).toBeGreaterThan(0);
    expect(DEFAULT_POLL_JITTER_MS).toBeLessThanOrEqual(50);
  });

  it('adds bound × draw to the interval before every poll, and nextPollAt says when the poll goes out', async () => {
    const draws = [0.25, 0.5, 0.75, 0.1];
    const flow = await authorized(() => draws.shift()!, { ...defaultInput, pollJitter: 40 });
    // First poll: the authorization was answered at T0.
    expect(flow.context().nextPollAt).toBe(T0 + 5_000 + 10);
    flow.clock.set(T0 + 5_009);
    expect(flow.pollToken.calls).toHaveLength(0);
    expect(runToNextPoll(flow)).toBe(T0 + 5_010);
    // Answered 300 ms later: the next poll is one interval and 20 ms after the answer.
    flow.clock.increment(300);
    await answer(flow.pollToken.last, { kind: 'pending' });
    expect(flow.context().nextPollAt).toBe(T0 + 5_310 + 5_000 + 20);
    expect(runToNextPoll(flow)).toBe(T0 + 10_330);
    // slow_down: 10 s from now on, and the jitter on top of it.
    await answer(flow.pollToken.last, { kind: 'slowDown', interval: null });
    expect(flow.context().nextPollAt).toBe(T0 + 10_330 + 10_000 + 30);
    expect(runToNextPoll(flow)).toBe(T0 + 20_360);
    expect(draws).toEqual([0.1]);
  });

  it('adds it to the back-off too, and transientError tells the whole wait; Retry-After stays a minimum', async () => {
    const flow = await authorized(() => 0.5, { ...defaultInput, pollJitter: 100 });
    runToNextPoll(flow);
    await fail(flow.pollToken.last, new DeviceFlowError('NetworkError', 'reset'));
    expect(flow.ofType('transientError').at(-1)!.retryIn).toBe(10_000 + 50);
    expect(flow.context().nextPollAt).toBe(flow.clock.now() + 10_050);
    runToNextPoll(flow);
    await fail(flow.pollToken.last, new DeviceFlowError('NetworkError', 'busy', { status: 503, retryAfter: 120 }));
    expect(flow.ofType('transientError').at(-1)!.retryIn).toBe(120_000 + 50);
  });

  it('adds it when startTokenPolling() resumes polling', async () => {
    const flow = await authorized(() => 0.5, { ...defaultInput, pollJitter: 40 });
    flow.actor.send({ type: 'STOP_POLLING' });
    flow.clock.increment(1_000);
    flow.actor.send({ type: 'START_POLLING' });
    expect(flow.context().nextPollAt).toBe(T0 + 1_000 + 5_000 + 20);
  });

  it('is off with pollJitter 0: polls exactly at the interval, as Qt, and draws nothing', async () => {
    let draws = 0;
    const flow = await authorized(
      () => {
        draws++;
        return 0.9;
      },
      { ...defaultInput, pollJitter: 0 },
    );
    expect(runToNextPoll(flow)).toBe(T0 + 5_000);
    await answer(flow.pollToken.last, { kind: 'pending' });
    expect(flow.context().nextPollAt).toBe(T0 + 10_000);
    expect(draws).toBe(0);
  });

  it('keeps every gap between an answer and the next poll within [interval, interval + bound] (property)', async () => {
    const answers = fc.array(
      fc.record({ latency: fc.integer({ min: 0, max: 3_000 }), outcome: fc.constantFrom('pending', 'slowDown', 'fault') }),
      { minLength: 1, maxLength: 12 },
    );
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.integer({ min: 0, max: MAX_POLL_JITTER_MS }), fc.integer({ min: 1, max: 10 }), answers, async (seed, bound, interval, script) => {
        const flow = await authorized(seededRandom(seed), { ...defaultInput, pollJitter: bound }, interval);
        let answeredAt = T0;
        let previousPoll = Number.NEGATIVE_INFINITY;
        for (const step of script) {
          if (flow.context().nextPollAt === null) break;
          const { pollInterval, consecutiveFailures } = flow.context();
          // The wait without the jitter: the interval, or the back-off after faults.
          const wait = consecutiveFailures === 0 ? pollInterval * 1000 : backOffDelay(pollInterval, consecutiveFailures, null);
          const sentAt = runToNextPoll(flow);
          expect(sentAt - answeredAt).toBeGreaterThanOrEqual(wait);
          expect(sentAt - answeredAt).toBeLessThanOrEqual(wait + bound);
          expect(sentAt - previousPoll).toBeGreaterThanOrEqual(pollInterval * 1000);
          previousPoll = sentAt;
          flow.clock.increment(step.latency);
          answeredAt = flow.clock.now();
          if (step.outcome === 'fault') await fail(flow.pollToken.last, new DeviceFlowError('NetworkError', 'reset'));
          else await answer(flow.pollToken.last, step.outcome === 'pending' ? { kind: 'pending' } : { kind: 'slowDown', interval: null });
        }
        flow.actor.stop();
      }),
      { numRuns: 200 },
    );
  });

  it('parts two flows started in the same millisecond and always answered together (default options)', async () => {
    // One source for both, as Math.random() is one for the whole process.
    const random = seededRandom(8628);
    const flows = [await authorized(random), await authorized(random)];
    const sends: number[][] = [[], []];
    for (let round = 0; round < 5; round++) {
      for (const [index, flow] of flows.entries()) {
        sends[index]!.push(runToNextPoll(flow));
        // Both answered at the same instant: the later poll's time.
      }
      const answeredAt = Math.max(...flows.map((flow) => flow.clock.now()));
      for (const flow of flows) {
        flow.clock.set(answeredAt);
        await answer(flow.pollToken.last, { kind: 'pending' });
      }
    }
    const apart = sends[0]!.map((at, round) => Math.abs(at - sends[1]![round]!));
    expect(apart.every((gap) => gap > 0)).toBe(true);
    expect(apart.every((gap) => gap <= DEFAULT_POLL_JITTER_MS)).toBe(true);
  });
});
