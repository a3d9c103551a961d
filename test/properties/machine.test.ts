/**
 * Property: whatever the server answers and whatever the application does, in whatever order and with whatever time
 * passing, the statechart keeps its invariants.
 *
 * - never two requests in flight;
 * - no poll earlier than the interval in force, counted from the last answer or from the start of polling;
 * - no poll at or after the user code's expiry;
 * - exactly one terminal signal when the flow ends a grant or a refresh (`granted`, or `requestFailed` for a refresh
 *   that failed back into `granted`; `requestFailed` on entering `failed`), and `granted` never otherwise;
 * - the status in the context is the one the state's tag declares, and `polling` matches the state;
 * - after the actor is stopped nothing is emitted and nothing is scheduled.
 */
import fc from 'fast-check';
import { type AnyMachineSnapshot, createActor } from 'xstate';
import { describe, expect, it } from 'vitest';
import { deviceAuthorizationChart } from '../../src/machines/deviceAuthorization.js';
import { type FlowSettings, PROPERTY_NAMES, type PropertyName, sameProperty } from '../../src/core/properties.js';
import { pollingInState, statusOfState } from '../helpers/expectedStatus.js';
import type { DeviceFlowContext, DeviceFlowEmitted } from '../../src/machines/types.js';
import { DeviceFlowError } from '../../src/core/errors.js';
import { deferredFlowActors, flushPromises, sampleAuthorization, sampleTokens } from '../helpers/deferredActors.js';
import { T0 } from '../helpers/machineHarness.js';
import { SteppedClock } from '../helpers/steppedClock.js';

type Command =
  | { kind: 'grant' | 'startPolling' | 'stopPolling' | 'refresh' }
  | { kind: 'update'; settings: Partial<FlowSettings> }
  | { kind: 'answerAuthorization'; interval: number; expiresIn: number } | { kind: 'failAuthorization'; error: DeviceFlowError }
  | { kind: 'answerPoll'; answer: 'pending' | 'granted' | { slowDown: number | null } } | { kind: 'failPoll'; error: DeviceFlowError }
  | { kind: 'answerRefresh'; expiresIn: number | null } | { kind: 'failRefresh'; error: DeviceFlowError }
  | { kind: 'advance'; ms: number };

const errors = fc.constantFrom(
  new DeviceFlowError('ServerError', 'denied', { error: 'access_denied' }),
  new DeviceFlowError('ExpiredError', 'expired', { error: 'expired_token' }),
  new DeviceFlowError('NetworkError', 'reset'),
  new DeviceFlowError('NetworkError', 'busy', { status: 503, retryAfter: 30 }),
  new DeviceFlowError('OAuthTokenNotFoundError', 'no access_token'),
);

const commands: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.constantFrom<Command>({ kind: 'grant' }, { kind: 'startPolling' }, { kind: 'stopPolling' }, { kind: 'refresh' }), weight: 3 },
  {
    arbitrary: fc.constantFrom<Command>(
      { kind: 'update', settings: { tokenUrl: null } },
      { kind: 'update', settings: { tokenUrl: 'https://as.example/token' } },
      { kind: 'update', settings: { refreshToken: 'a-refresh-token' } },
      { kind: 'update', settings: { autoRefresh: true } },
      { kind: 'update', settings: { refreshLeadTime: 30 } },
      { kind: 'update', settings: { maxConsecutiveFailures: 2 } },
    ),
    weight: 1,
  },
  { arbitrary: fc.record({ kind: fc.constant('answerAuthorization' as const), interval: fc.integer({ min: 1, max: 30 }), expiresIn: fc.integer({ min: 1, max: 300 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('failAuthorization' as const), error: errors }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('answerPoll' as const),
      answer: fc.oneof(fc.constant('pending' as const), fc.constant('granted' as const), fc.record({ slowDown: fc.option(fc.integer({ min: 1, max: 60 })) })),
    }),
    weight: 4,
  },
  { arbitrary: fc.record({ kind: fc.constant('failPoll' as const), error: errors }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('answerRefresh' as const), expiresIn: fc.option(fc.integer({ min: 1, max: 7200 })) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('failRefresh' as const), error: errors }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 10_000, max: 400_000 })) }), weight: 4 },
);


/** A small deterministic random source, so that fast-check can replay a failing run from its seed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

async function check(script: Command[], seed: number): Promise<void> {
  // Timers due at the same moment fire in a random order, as real ones may.
  const clock = new SteppedClock(T0, seeded(seed));
  const doubles = deferredFlowActors(() => clock.now());
  const actor = createActor(deviceAuthorizationChart.provide({ actors: doubles.actors }), {
    clock,
    input: { authorizationUrl: 'https://as.example/device', tokenUrl: 'https://as.example/token', clientIdentifier: 'tv' },
  });
  const emitted: DeviceFlowEmitted[] = [];
  actor.on('*', (event) => emitted.push(event));

  const calls = [doubles.requestDeviceAuthorization.calls, doubles.pollToken.calls, doubles.refreshTokens.calls] as { signal: AbortSignal }[][];
  const settled = new WeakSet<object>();
  const inFlight = () => calls.flat().filter((call) => !settled.has(call) && !call.signal.aborted);
  // The moment polling last (re)started its wait: the authorization answer, a poll answer, or startTokenPolling().
  let anchor = T0;
  let pollsSeen = 0;

  /** The call of `list` still in flight, if any. */
  const open = <C extends { signal: AbortSignal }>(list: C[]) => {
    const call = list.at(-1);
    return call !== undefined && !settled.has(call) && !call.signal.aborted ? call : undefined;
  };

  actor.start();
  for (const command of script) {
    const before = actor.getSnapshot();
    const firstEvent = emitted.length;
    await perform(command);
    const after = actor.getSnapshot();
    const step = emitted.slice(firstEvent);
    expectInvariants(before, after, step, command);
  }

  actor.stop();
  const stopped = emitted.length;
  const callsAtStop = calls.flat().length;
  expect(clock.pending).toBe(0);
  clock.advance(10 * 86_400_000);
  await flushPromises();
  expect(emitted.length).toBe(stopped);
  expect(calls.flat().length).toBe(callsAtStop);
  expect(inFlight()).toEqual([]);

  async function perform(command: Command): Promise<void> {
    switch (command.kind) {
      case 'grant':
        return actor.send({ type: 'GRANT' });
      case 'startPolling': {
        const wasPolling = actor.getSnapshot().context.properties.polling;
        actor.send({ type: 'START_POLLING' });
        if (!wasPolling && actor.getSnapshot().context.properties.polling) anchor = clock.now();
        return;
      }
      case 'stopPolling':
        return actor.send({ type: 'STOP_POLLING' });
      case 'refresh':
        return actor.send({ type: 'REFRESH' });
      case 'update':
        return actor.send({ type: 'UPDATE', settings: command.settings });
      case 'advance':
        clock.advance(command.ms);
        return flushPromises();
      case 'answerAuthorization':
        return settle(open(doubles.requestDeviceAuthorization.calls), (call) => {
          anchor = clock.now();
          call.resolve(sampleAuthorization({ interval: command.interval, expiresIn: command.expiresIn }));
        });
      case 'failAuthorization':
        return settle(open(doubles.requestDeviceAuthorization.calls), (call) => call.reject(command.error));
      case 'answerPoll':
        return settle(open(doubles.pollToken.calls), (call) => {
          anchor = clock.now();
          const { answer } = command;
          call.resolve(answer === 'pending' ? { kind: 'pending' } : answer === 'granted' ? { kind: 'granted', tokens: sampleTokens() } : { kind: 'slowDown', interval: answer.slowDown });
        });
      case 'failPoll':
        return settle(open(doubles.pollToken.calls), (call) => {
          anchor = clock.now();
          call.reject(command.error);
        });
      case 'answerRefresh':
        return settle(open(doubles.refreshTokens.calls), (call) => call.resolve(sampleTokens({ accessToken: 'refreshed', expiresIn: command.expiresIn })));
      case 'failRefresh':
        return settle(open(doubles.refreshTokens.calls), (call) => call.reject(command.error));
    }
  }

  async function settle<C extends object>(call: C | undefined, answer: (call: C) => void): Promise<void> {
    if (call === undefined) return;
    settled.add(call);
    answer(call);
    await flushPromises();
  }

  function expectInvariants(before: AnyMachineSnapshot, after: AnyMachineSnapshot, step: DeviceFlowEmitted[], command: Command): void {
    const context = after.context as DeviceFlowContext;
    const where = JSON.stringify({ command, state: after.value });
    expect(inFlight().length, where).toBeLessThanOrEqual(1);

    // Every poll that started in this step waited the interval in force, and went out before the expiry.
    const polls = doubles.pollToken.calls;
    for (const poll of polls.slice(pollsSeen)) {
      expect(poll.startedAt - anchor, `${where}: poll too early`).toBeGreaterThanOrEqual(context.pollInterval * 1000);
      expect(poll.input.notAfter, where).not.toBeNull();
      expect(poll.startedAt, `${where}: poll after expiry`).toBeLessThan(poll.input.notAfter!);
    }
    pollsSeen = polls.length;

    const count = (type: string) => step.filter((event) => event.type === type).length;
    const entered = (state: string) => after.matches(state as never) && !before.matches(state as never);
    // Entering granted: `granted`, or `requestFailed` when a refresh failed back into it; entering failed: `requestFailed`.
    if (entered('granted')) expect(count('granted') + count('requestFailed'), where).toBe(1);
    else expect(count('granted'), where).toBe(0);
    if (entered('failed')) expect(count('requestFailed'), where).toBe(1);

    expect(context.properties.status, where).toBe(statusOfState(after));
    expect(context.properties.polling, where).toBe(pollingInState(after));

    // Every change of a property is announced, and every announcement is a change: replaying the step's …Changed
    // events over the properties before it gives the properties after it.
    const replayed: Record<string, unknown> = { ...(before.context as DeviceFlowContext).properties };
    for (const event of step) {
      if (!event.type.endsWith('Changed')) continue;
      const name = event.type.slice(0, -'Changed'.length) as PropertyName;
      const { value } = event as unknown as { value: never };
      expect(sameProperty(name, replayed[name] as never, value), `${where}: ${event.type} announced no change`).toBe(false);
      replayed[name] = value;
    }
    for (const name of PROPERTY_NAMES) expect(sameProperty(name, replayed[name] as never, context.properties[name] as never), `${where}: ${name} changed unannounced`).toBe(true);
  }
}

describe('the statechart under arbitrary answers, calls and time', () => {
  it('keeps its invariants (300 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(commands, { minLength: 1, maxLength: 40 }), fc.integer(), (script, seed) => check(script, seed)),
      { numRuns: 300 },
    );
  }, 120_000);

  it('keeps them in flows that are driven to the end (200 runs)', async () => {
    // Scripts that grant first and answer every request, so that most runs reach granted or failed.
    const driven = fc
      .array(fc.oneof(commands, fc.constantFrom<Command>({ kind: 'answerPoll', answer: 'pending' }, { kind: 'advance', ms: 5_000 })), { minLength: 5, maxLength: 40 })
      .map((rest): Command[] => [{ kind: 'grant' }, { kind: 'answerAuthorization', interval: 5, expiresIn: 120 }, ...rest]);
    await fc.assert(fc.asyncProperty(driven, fc.integer(), (script, seed) => check(script, seed)), { numRuns: 200 });
  }, 120_000);

  it('keeps them when a poll falls due at the very moment the code expires (200 runs)', async () => {
    // The k-th poll is due exactly at the expiry; the two timers fire in a random order.
    const tied = fc
      .tuple(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 2, max: 6 }), fc.array(commands, { maxLength: 5 }))
      .map(([interval, k, tail]): Command[] => [
        { kind: 'grant' },
        { kind: 'answerAuthorization', interval, expiresIn: interval * k },
        ...Array.from({ length: k }, (): Command[] => [{ kind: 'advance', ms: interval * 1000 }, { kind: 'answerPoll', answer: 'pending' }]).flat(),
        ...tail,
      ]);
    await fc.assert(fc.asyncProperty(tied, fc.integer(), (script, seed) => check(script, seed)), { numRuns: 200 });
  }, 120_000);
});
