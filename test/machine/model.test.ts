/**
 * Model-based test of the statechart: xstate/graph generates paths over the real machine, each path is replayed
 * against an actor whose actors are deferred doubles and whose clock is simulated, and the suite fails unless the
 * replays together visit every state and take every transition.
 *
 * Time is part of the model: the traversal runs the machine through a wrapper that sets the (faked) wall clock to
 * the moment each event happens, and a delayed event is offered only when its timer is the next one due. Paths are
 * therefore realisable: the replay fires each timer by moving the simulated clock to the same moment.
 */
import { exactClock } from '../helpers/exactClock.js';
import {
  type AnyEventObject,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  createActor,
  type EventObject,
  type InspectionEvent,
  pathToStateValue,
  SimulatedClock,
} from 'xstate';
import { getShortestPaths, getStateNodes } from 'xstate/graph';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deviceAuthorizationChart } from '../../src/machines/deviceAuthorization.js';
import type { DeviceFlowContext, DeviceFlowEmitted, DeviceFlowInput } from '../../src/machines/types.js';
import { DeviceFlowError } from '../../src/core/errors.js';
import { deferredFlowActors, flushPromises, sampleAuthorization, sampleTokens } from '../helpers/deferredActors.js';
import { pollingInState, statusOfState } from '../helpers/expectedStatus.js';
import { T0 } from '../helpers/machineHarness.js';

const machine = deviceAuthorizationChart;
const input: DeviceFlowInput = {
  authorizationUrl: 'https://as.example/device',
  tokenUrl: 'https://as.example/token',
  clientIdentifier: 'tv-app',
  requestedScopeTokens: ['read'],
  nonceMode: 'Disabled',
  // One transport fault is ridden out, the next ends the polling: both branches are in the model.
  maxConsecutiveFailures: 1,
  // ID tokens are validated, and tokens can be revoked.
  issuer: 'https://as.example',
  jwksUrl: 'https://as.example/jwks',
  revocationUrl: 'https://as.example/revoke',
};

// ── Events of the model ─────────────────────────────────────────────────────────────────────────────────────────

const AFTER = {
  poll: 'xstate.after.untilNextPoll.deviceAuthorization.awaitingUser.poller.waiting',
  expiry: 'xstate.after.untilUserCodeExpiry.deviceAuthorization.awaitingUser.userCode.valid',
  refresh: 'xstate.after.untilRefreshCheckpoint.deviceAuthorization.granted.refreshScheduled',
} as const;

const serverError = new DeviceFlowError('ServerError', 'denied', { error: 'access_denied' });
const nonceChallenge = new DeviceFlowError('ServerError', 'use a nonce', { error: 'use_dpop_nonce', status: 400 });
const sixtyDays = 60 * 86_400;

const events: AnyEventObject[] = [
  { type: 'GRANT' },
  { type: 'START_POLLING' },
  { type: 'STOP_POLLING' },
  { type: 'REFRESH' },
  { type: 'RESUME' },
  { type: 'UPDATE', settings: { tokenUrl: null } },
  { type: 'UPDATE', settings: { tokenUrl: 'https://as.example/token' } },
  { type: 'UPDATE', settings: { authorizationUrl: null } },
  { type: 'UPDATE', settings: { refreshToken: 'manual-refresh-token' } },
  { type: 'UPDATE', settings: { refreshLeadTime: 3595 } },
  { type: 'UPDATE', settings: { revocationUrl: null } },
  // 32 s is no multiple of the 5 s interval, so a poll and the expiry never fall due together.
  { type: 'xstate.done.actor.requestDeviceAuthorization', output: sampleAuthorization({ interval: 5, expiresIn: 32 }) },
  { type: 'xstate.done.actor.requestDeviceAuthorization', output: sampleAuthorization({ interval: 40, expiresIn: 32 }) },
  { type: 'xstate.error.actor.requestDeviceAuthorization', error: serverError },
  { type: 'xstate.done.actor.pollToken', output: { kind: 'pending' } },
  { type: 'xstate.done.actor.pollToken', output: { kind: 'slowDown', interval: null } },
  { type: 'xstate.done.actor.pollToken', output: { kind: 'granted', tokens: sampleTokens({ expiresIn: 3600 }) } },
  { type: 'xstate.done.actor.pollToken', output: { kind: 'granted', tokens: sampleTokens({ expiresIn: null }) } },
  { type: 'xstate.done.actor.pollToken', output: { kind: 'granted', tokens: sampleTokens({ expiresIn: sixtyDays }) } },
  { type: 'xstate.done.actor.pollToken', output: { kind: 'granted', tokens: sampleTokens({ idToken: 'id-token-1' }) } },
  { type: 'xstate.error.actor.pollToken', error: serverError },
  { type: 'xstate.error.actor.pollToken', error: nonceChallenge },
  { type: 'xstate.error.actor.pollToken', error: new DeviceFlowError('NetworkError', 'connection reset', { status: 503, retryAfter: 7 }) },
  { type: 'xstate.done.actor.refreshTokens', output: sampleTokens({ accessToken: 'refreshed', expiresIn: 3600 }) },
  { type: 'xstate.done.actor.refreshTokens', output: sampleTokens({ accessToken: 'refreshed', idToken: 'id-token-2' }) },
  { type: 'xstate.error.actor.refreshTokens', error: new DeviceFlowError('ServerError', 'revoked', { error: 'invalid_grant' }) },
  { type: 'xstate.error.actor.refreshTokens', error: nonceChallenge },
  { type: 'xstate.done.actor.validateIdToken', output: { iss: 'https://as.example', sub: 'user-1', aud: 'tv-app' } },
  { type: 'xstate.error.actor.validateIdToken', error: new DeviceFlowError('ServerError', 'The ID token was refused: it expired') },
  { type: 'REVOKE' },
  {
    type: 'ADOPT_TOKENS',
    tokens: { token: 'adopted', refreshToken: 'adopted-refresh', idToken: '', idTokenClaims: null, tokenType: 'Bearer', expirationAt: T0 + 3_600_000, grantedScopeTokens: ['read'] },
  },
  { type: 'FORGET_TOKENS' },
  { type: 'xstate.done.actor.revokeTokens', output: undefined },
  { type: 'xstate.error.actor.revokeTokens', error: new DeviceFlowError('ServerError', 'refused', { error: 'unsupported_token_type' }) },
  // What the class sends after an exception stopped the actor in the middle of a step.
  { type: 'FAIL', error: new DeviceFlowError('ClientError', 'The flow stopped after an unexpected error in its statechart') },
  { type: AFTER.poll },
  { type: AFTER.expiry },
  { type: AFTER.refresh },
];

// ── Time ────────────────────────────────────────────────────────────────────────────────────────────────────────

type Timer = keyof typeof AFTER;

/** The timers pending in a snapshot, with the moment each falls due (as the machine's delays compute it). */
function pendingTimers(snapshot: AnyMachineSnapshot, now: number): Partial<Record<Timer, number>> {
  const context = snapshot.context as DeviceFlowContext;
  const due = (at: number | null) => (at === null ? Number.POSITIVE_INFINITY : Math.min(Math.max(at, now), now + 2_147_483_647));
  const timers: Partial<Record<Timer, number>> = {};
  if (snapshot.matches({ awaitingUser: { poller: 'waiting' } } as never)) timers.poll = due(context.properties.nextPollAt);
  if (snapshot.matches({ awaitingUser: { userCode: 'valid' } } as never)) timers.expiry = due(context.properties.userCodeExpirationAt);
  if (snapshot.matches({ granted: 'refreshScheduled' } as never)) timers.refresh = due(context.refreshCheckpoint);
  return timers;
}

function timerOf(event: EventObject): Timer | undefined {
  return (Object.keys(AFTER) as Timer[]).find((timer) => AFTER[timer] === event.type);
}

/** Whether `event` can happen now: a delayed event only when its timer is the next one due. */
function realisable(snapshot: AnyMachineSnapshot, now: number, event: EventObject): boolean {
  const timer = timerOf(event);
  if (timer === undefined) return true;
  const timers = pendingTimers(snapshot, now);
  const due = timers[timer];
  return due !== undefined && Object.values(timers).every((other) => due <= other!);
}

const clockOf = new WeakMap<object, number>();
const depthOf = new WeakMap<object, number>();
const timeOf = (snapshot: AnyMachineSnapshot) => clockOf.get(snapshot) ?? T0;

/** The machine, with the wall clock set to the moment of each event while the traversal computes its transition. */
const timedMachine: AnyStateMachine = Object.create(machine, {
  getInitialSnapshot: {
    value(...args: Parameters<AnyStateMachine['getInitialSnapshot']>) {
      vi.setSystemTime(T0);
      const snapshot = machine.getInitialSnapshot(...(args as Parameters<typeof machine.getInitialSnapshot>));
      clockOf.set(snapshot, T0);
      return snapshot;
    },
  },
  transition: {
    value(snapshot: AnyMachineSnapshot, event: EventObject, scope: unknown) {
      const timer = timerOf(event);
      const now = timer === undefined ? timeOf(snapshot) : pendingTimers(snapshot, timeOf(snapshot))[timer]!;
      vi.setSystemTime(now);
      const next: AnyMachineSnapshot = machine.transition(snapshot as never, event as never, scope as never);
      // An event that changes nothing returns the same snapshot, which keeps its own time and depth.
      if (next !== snapshot) {
        clockOf.set(next, now);
        depthOf.set(next, (depthOf.get(snapshot) ?? 0) + 1);
      }
      return next;
    },
  },
});

// ── Paths ───────────────────────────────────────────────────────────────────────────────────────────────────────

/** What a state is, for the traversal: its value, the context that guards read, and its timers relative to now. */
function describeState(snapshot: AnyMachineSnapshot): string {
  const context = snapshot.context as DeviceFlowContext;
  const now = timeOf(snapshot);
  // Past moments all look alike: only what is still ahead can make a difference.
  const relative = (at: number | null) => (at === null ? null : Math.max(0, at - now));
  return JSON.stringify([
    snapshot.value,
    context.properties.status,
    context.properties.polling,
    Boolean(context.properties.authorizationUrl),
    Boolean(context.properties.tokenUrl),
    context.deviceCode !== '',
    context.properties.token !== '',
    context.properties.refreshToken !== '',
    context.pollInterval,
    context.properties.refreshLeadTime,
    context.consecutiveFailures,
    context.nonceRetried,
    Boolean(context.properties.revocationUrl),
    context.receivedTokens !== null,
    relative(context.properties.nextPollAt),
    relative(context.properties.userCodeExpirationAt),
    relative(context.refreshCheckpoint),
    relative(context.refreshAt),
  ]);
}

/** Paths up to this many events reach every transition; MODEL_DEPTH explores further. */
const MAX_DEPTH = Number(process.env.MODEL_DEPTH ?? 6);
let paths: ReturnType<typeof getShortestPaths>;

beforeAll(() => {
  vi.useFakeTimers({ toFake: ['Date'], now: T0 });

  paths = getShortestPaths(timedMachine, {
    input,
    events,
    // Keying by (state, event, previous state) makes the shortest paths reach every edge, not only every state.
    serializeState: (snapshot, event, previous) =>
      `${describeState(snapshot)}|${event?.type ?? ''}|${previous ? describeState(previous) : ''}`,
    // Not `snapshot.can(event)`: it ignores transitions without target or actions, which the chart uses on purpose.
    filterEvents: (snapshot, event) =>
      snapshot.status === 'active' && realisable(snapshot, timeOf(snapshot), event) && machine.getTransitionData(snapshot as never, event as never).length > 0,
    stopWhen: (snapshot) => (depthOf.get(snapshot) ?? 0) >= MAX_DEPTH,
  });
  vi.useRealTimers();
  // Thousands of paths over a chart of this size: minutes on a loaded machine are not a failure.
}, 180_000);
afterAll(() => vi.useRealTimers());

// ── Replay ──────────────────────────────────────────────────────────────────────────────────────────────────────

const coveredTransitions = new Set<string>();
const visitedStates = new Set<string>();
const stateNodes = [machine.root, ...getStateNodes(machine.root)];

function visit(snapshot: AnyMachineSnapshot): void {
  for (const node of stateNodes) if (snapshot.matches(pathToStateValue(node.path) as never)) visitedStates.add(node.id);
}

describe('model-based paths over the statechart', () => {
  it('generates paths', () => {
    expect(paths.length).toBeGreaterThan(1000);
  });

  it('replays every path against a real actor with the state, status and polling the model predicts', async () => {
    for (const path of paths) await replay(path);
  }, 180_000);

  it('visits every state and takes every transition', () => {
    const missedStates = stateNodes.map((node) => node.id).filter((id) => !visitedStates.has(id));
    const allTransitions = stateNodes.flatMap((node) => [...[...node.transitions.values()].flat(), ...(node.always ?? [])]).map(transitionKey);
    const missedTransitions = allTransitions.filter((key) => !coveredTransitions.has(key));
    expect({ missedStates, missedTransitions }).toEqual({ missedStates: [], missedTransitions: [] });
    expect(allTransitions.length).toBeGreaterThan(30);
  });
});

type Transition = (typeof stateNodes)[number]['always'] extends (infer T)[] | undefined ? T : never;

/**
 * A name for a transition that is the same in the machine and in its `provide()`d copies (which have their own
 * transition objects): source, event, and position among the source's transitions for that event.
 */
function transitionKey(transition: Transition): string {
  const { source, eventType } = transition;
  const siblings = eventType === '' ? (source.always ?? []) : (source.transitions.get(eventType) ?? []);
  const guard = transition.guard;
  const guardName = typeof guard === 'string' ? guard : typeof guard === 'object' && guard !== null && 'type' in guard ? String(guard.type) : guard ? 'inline' : '';
  return `${source.id} on ${eventType || '(always)'} #${siblings.indexOf(transition)}${guardName ? ` [${guardName}]` : ''}`;
}

async function replay(path: (typeof paths)[number]): Promise<void> {
  const doubles = deferredFlowActors();
  const clock = exactClock(T0);
  const emitted: DeviceFlowEmitted[] = [];
  const actor = createActor(machine.provide({ actors: doubles.actors }), {
    clock,
    input,
    inspect: (event: InspectionEvent) => {
      if (event.type === '@xstate.microstep') {
        visit(event.snapshot as AnyMachineSnapshot);
        for (const transition of (event as unknown as { _transitions: Transition[] })._transitions) coveredTransitions.add(transitionKey(transition));
      }
    },
  });
  actor.on('*', (event) => emitted.push(event));
  actor.start();
  const where = (step: number) => `${path.steps.map((s) => s.event.type).join(" → ")} — step ${step}`;
  visit(actor.getSnapshot());

  for (const [index, step] of path.steps.entries()) {
    if (index === 0) continue;
    await perform(step.event, actor, clock, doubles);
    const snapshot = actor.getSnapshot();
    visit(snapshot);
    expect(snapshot.value, where(index)).toEqual(step.state.value);
    expectConsistent(snapshot, emitted, where(index));
  }
  actor.stop();
}

async function perform(
  event: EventObject,
  actor: ReturnType<typeof createActor<typeof machine>>,
  clock: SimulatedClock,
  doubles: ReturnType<typeof deferredFlowActors>,
): Promise<void> {
  const timer = timerOf(event);
  if (timer !== undefined) {
    clock.set(pendingTimers(actor.getSnapshot(), clock.now())[timer]!);
    return;
  }
  const settled = /^xstate\.(done|error)\.actor\.(\w+)$/.exec(event.type);
  if (settled) {
    const [, outcome, name] = settled;
    const call = doubles[name as 'pollToken'].last;
    if (outcome === 'done') call.resolve((event as unknown as { output: never }).output);
    else call.reject((event as unknown as { error: unknown }).error);
    await flushPromises();
    return;
  }
  actor.send(event as never);
}

/** The invariants every snapshot keeps, whatever the path. */
function expectConsistent(snapshot: AnyMachineSnapshot, emitted: DeviceFlowEmitted[], where: string): void {
  const context = snapshot.context as DeviceFlowContext;
  // The status and polling in the context are what the state stands for.
  expect(context.properties.status, where).toBe(statusOfState(snapshot));
  expect(context.properties.polling, where).toBe(pollingInState(snapshot));
  // Every announced value is the current one: the last …Changed event of a property carries its value.
  const last = new Map<string, unknown>();
  for (const event of emitted) if (event.type.endsWith('Changed')) last.set(event.type.slice(0, -7), (event as { value: unknown }).value);
  for (const [name, value] of last) expect(context.properties[name as keyof DeviceFlowContext['properties']], `${where}: ${name}`).toEqual(value);
  // Never more than one request in flight.
  expect(Object.keys(snapshot.children).length, where).toBeLessThanOrEqual(1);
}
