import { createActor } from 'xstate';
import { exactClock } from './exactClock.js';
import { deviceAuthorizationChart } from '../../src/machines/deviceAuthorization.js';
import type { DeviceFlowEmitted, DeviceFlowInput } from '../../src/machines/types.js';
import { deferredFlowActors, flushPromises } from './deferredActors.js';

/** A fixed start time, so that timestamps in assertions are readable. */
export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

export const defaultInput: DeviceFlowInput = {
  authorizationUrl: 'https://as.example/device',
  tokenUrl: 'https://as.example/token',
  clientIdentifier: 'tv-app',
  requestedScopeTokens: ['read'],
};

/**
 * The statechart with deferred actors and a simulated clock set to {@link T0}: every request waits for the test,
 * and time passes only when the test says so. The clock's `random()` draws 0 (no poll jitter: Qt's exact times)
 * unless `random` replaces it.
 */
export function startMachine(input: DeviceFlowInput = defaultInput, { random }: { random?: () => number } = {}) {
  const clock = exactClock(T0);
  if (random !== undefined) clock.random = random;
  const actors = deferredFlowActors(() => clock.now());
  const actor = createActor(deviceAuthorizationChart.provide({ actors: actors.actors }), { clock, input });
  const emitted: DeviceFlowEmitted[] = [];
  actor.on('*', (event) => emitted.push(event));
  actor.start();
  return {
    actor,
    clock,
    emitted,
    ...actors,
    /** The context with its properties spread among the bookkeeping, as the tests read it. */
    context: () => {
      const { properties, ...bookkeeping } = actor.getSnapshot().context;
      return { ...properties, ...bookkeeping };
    },
    value: () => actor.getSnapshot().value,
    matches: (state: string) => actor.getSnapshot().matches(state as never),
    /** Milliseconds since T0 on the simulated clock. */
    elapsed: () => clock.now() - T0,
    /** The emitted event types since the last call. */
    drain(): string[] {
      return emitted.splice(0).map((event) => event.type);
    },
    /** The emitted events of a type. */
    ofType<K extends DeviceFlowEmitted['type']>(type: K) {
      return emitted.filter((event): event is Extract<DeviceFlowEmitted, { type: K }> => event.type === type);
    },
  };
}

/** Settles a deferred call and lets the actor see the result. */
export async function answer<O>(call: { resolve(output: O): void }, output: O): Promise<void> {
  call.resolve(output);
  await flushPromises();
}

/** Rejects a deferred call and lets the actor see the error. */
export async function fail(call: { reject(error: unknown): void }, error: unknown): Promise<void> {
  call.reject(error);
  await flushPromises();
}
