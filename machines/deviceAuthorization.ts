/**
 * The OAuth 2.0 Device Authorization Grant as a statechart.
 *
 * ```
 * idle ─GRANT─▶ authorizing ─▶ awaitingUser ─▶ granted ⇄ refreshing
 *                    │          ├ userCode: valid ─▶ expired
 *                    │          └ poller:   waiting ⇄ requesting, stopped
 *                    └────────────────┴──────────▶ failed (authorization | polling | refresh)
 * ```
 *
 * The chart is pure: HTTP happens in the three named actors, which are placeholders here and are filled in with
 * `machine.provide({ actors })` (the package's `createDeviceAuthorizationMachine()` does so). Time comes from the
 * actor's clock, every wait is a delayed transition whose delay is derived from an absolute timestamp in the context,
 * and every property change is announced with an emitted `…Changed` event in Qt's order.
 *
 * @module
 * @see [RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)
 */

import { and, assign, enqueueActions, fromPromise, setup, stateIn } from 'xstate';
import { DeviceFlowError, isDeviceFlowError } from '../src/errors.js';
import type { DeviceAuthorization } from '../src/protocol/deviceAuthorizationResponse.js';
import { DEFAULT_POLL_INTERVAL_SECONDS } from '../src/protocol/deviceAuthorizationResponse.js';
import type { PollOutcome, TokenResponse } from '../src/protocol/tokenResponse.js';
import { announce, type FailureReport, redactKnownSecrets, reportFailure } from './announcements.js';
import { readClock } from './clock.js';
import { createNonce } from './nonce.js';
import { grantProblem, pollingProblem, refreshProblem } from './preconditions.js';
import { backOffDelay, delayUntil, MAX_TIMER_DELAY_MS, refreshSignalAt, slowedDownInterval } from './timing.js';
import type {
  ClientRequest,
  DeviceAuthorizationRequest,
  DeviceFlowContext,
  DeviceFlowEmitted,
  DeviceFlowEvent,
  DeviceFlowInput,
  DeviceFlowTag,
  DeviceTokenRequest,
  FlowProperties,
  FlowStatus,
  RefreshTokenRequest,
} from './types.js';

function notProvided(name: string): () => Promise<never> {
  return async () => {
    throw new DeviceFlowError('ClientError', `The "${name}" actor has no implementation: provide one with machine.provide({ actors })`);
  };
}

/** Any rejection of an actor, as a {@link DeviceFlowError}: an unknown error is a transport failure. */
function asDeviceFlowError(error: unknown): DeviceFlowError {
  if (isDeviceFlowError(error)) return error;
  return new DeviceFlowError('NetworkError', 'The request failed', {}, { cause: error });
}

function refused(message: string): () => FailureReport {
  return () => ({ error: new DeviceFlowError('ClientError', message) });
}

/** A `ClientError` report naming what `problem` finds wrong with the context. */
function refusedFor(problem: (context: DeviceFlowContext) => string | null) {
  return ({ context }: { context: DeviceFlowContext }): FailureReport => ({ error: new DeviceFlowError('ClientError', problem(context) ?? 'Refused') });
}

/**
 * Whether a failed poll is a transport fault to ride out (RFC 8628 §3.5): a `NetworkError`, while the budget of
 * consecutive faults lasts.
 */
function retryable(error: DeviceFlowError, context: DeviceFlowContext): boolean {
  return error.code === 'NetworkError' && (context.properties.maxConsecutiveFailures === null || context.consecutiveFailures < context.properties.maxConsecutiveFailures);
}

function expired(): FailureReport {
  return { error: new DeviceFlowError('ExpiredError', 'The user code expired before the user completed the authorization') };
}

/** At the expiry: `ExpiredError`, or `NetworkError` when the server was unreachable for the last polls (§3.5). */
function expiredOrUnreachable(context: DeviceFlowContext): FailureReport {
  if (context.consecutiveFailures === 0 || context.lastFault === null) return expired();
  const { code: _code, message, ...fields } = context.lastFault;
  return { error: new DeviceFlowError('NetworkError', `The user code expired while the authorization server could not be reached (${message})`, fields) };
}

/** The part of every actor's input that names the endpoint and the client. */
function clientRequest(context: DeviceFlowContext, url: string | null): ClientRequest {
  return { url: url ?? '', clientIdentifier: context.properties.clientIdentifier, clientAuthentication: context.properties.clientAuthentication };
}

/** Whether the device authorization request carries a nonce (Qt §2.3). */
function nonceIsSent(context: DeviceFlowContext): boolean {
  return context.properties.nonceMode === 'Enabled' || (context.properties.nonceMode === 'Automatic' && context.properties.requestedScopeTokens.includes('openid'));
}

/** The token properties a token response sets, in Qt's announcement order (Qt §5). */
function tokenProperties(context: DeviceFlowContext, tokens: TokenResponse, now: number, isRefresh: boolean): Partial<FlowProperties> {
  return {
    ...(tokens.refreshToken === null ? {} : { refreshToken: tokens.refreshToken }),
    token: tokens.accessToken,
    grantedScopeTokens: tokens.grantedScopeTokens,
    // A refresh response may omit the ID token (OpenID Connect Core §12.2); the one from the grant then stays.
    ...(isRefresh && tokens.idToken === '' ? {} : { idToken: tokens.idToken }),
    expirationAt: tokens.expiresIn === null ? null : now + tokens.expiresIn * 1000,
    extraTokens: { ...context.properties.extraTokens, ...tokens.extraTokens },
  };
}

/** Polling resumed by `startTokenPolling()` waits one full interval before its first poll (Qt §4.1). */
function firstPollAt(context: DeviceFlowContext): number {
  return (context.pollingStartedAt ?? 0) + context.pollInterval * 1000;
}

function scheduleRefresh(context: DeviceFlowContext, now: number, clientSide: boolean): Pick<DeviceFlowContext, 'refreshAt'> {
  return {
    refreshAt: refreshSignalAt({
      now,
      expirationAt: context.properties.expirationAt,
      refreshLeadTime: context.properties.refreshLeadTime,
      tokenLifetime: context.tokenLifetime,
      clientSide,
    }),
  };
}

function initialContext(input: DeviceFlowInput = {}): DeviceFlowContext {
  return {
    properties: {
      authorizationUrl: input.authorizationUrl ?? null,
      tokenUrl: input.tokenUrl ?? null,
      clientIdentifier: input.clientIdentifier ?? '',
      clientAuthentication: input.clientAuthentication ?? 'client_secret_post',
      requestedScopeTokens: [...(input.requestedScopeTokens ?? [])],
      nonceMode: input.nonceMode ?? 'Automatic',
      nonce: input.nonce ?? '',
      autoRefresh: input.autoRefresh ?? false,
      refreshLeadTime: input.refreshLeadTime ?? 0,
      token: input.token ?? '',
      refreshToken: input.refreshToken ?? '',
      allowInsecureHttp: input.allowInsecureHttp ?? false,
      maxConsecutiveFailures: input.maxConsecutiveFailures ?? null,
      userCode: '',
      verificationUrl: null,
      completeVerificationUrl: null,
      userCodeExpirationAt: null,
      idToken: '',
      expirationAt: null,
      grantedScopeTokens: [],
      extraTokens: {},
      nextPollAt: null,
      status: 'NotAuthenticated',
      polling: false,
    },
    deviceCode: '',
    pollInterval: DEFAULT_POLL_INTERVAL_SECONDS,
    tokenLifetime: null,
    refreshAt: null,
    refreshCheckpoint: null,
    pollingStartedAt: null,
    consecutiveFailures: 0,
    lastFault: null,
    lastError: null,
  };
}

/** The event XState raises when `awaitingUser.userCode.valid`'s expiry delay ends (`xstate.after.<delay>.<state id>`). */
const USER_CODE_EXPIRY_EVENT = { type: 'xstate.after.untilUserCodeExpiry.deviceAuthorization.awaitingUser.userCode.valid' };

const flow = setup({
  types: {
    context: {} as DeviceFlowContext,
    input: {} as DeviceFlowInput,
    events: {} as DeviceFlowEvent,
    emitted: {} as DeviceFlowEmitted,
    tags: {} as DeviceFlowTag,
  },
  actors: {
    requestDeviceAuthorization: fromPromise<DeviceAuthorization, DeviceAuthorizationRequest>(notProvided('requestDeviceAuthorization')),
    pollToken: fromPromise<PollOutcome, DeviceTokenRequest>(notProvided('pollToken')),
    refreshTokens: fromPromise<TokenResponse, RefreshTokenRequest>(notProvided('refreshTokens')),
  },
  delays: {
    untilNextPoll: ({ context, self }) => delayUntil(context.properties.nextPollAt, readClock(self)),
    untilUserCodeExpiry: ({ context, self }) => delayUntil(context.properties.userCodeExpirationAt, readClock(self)),
    untilRefreshCheckpoint: ({ context, self }) => delayUntil(context.refreshCheckpoint, readClock(self)),
  },
  guards: {
    grantBlocked: ({ context }) => grantProblem(context) !== null,
    refreshBlocked: ({ context }) => refreshProblem(context) !== null,
    pollingBlocked: ({ context }) => pollingProblem(context) !== null,
    hasAccessToken: ({ context }) => context.properties.token !== '',
    firstPollBeforeExpiry: ({ context }) => context.properties.userCodeExpirationAt !== null && firstPollAt(context) < context.properties.userCodeExpirationAt,
    nextPollBeforeExpiry: ({ context }) =>
      context.properties.nextPollAt !== null && context.properties.userCodeExpirationAt !== null && context.properties.nextPollAt < context.properties.userCodeExpirationAt,
    noRefreshScheduled: ({ context }) => context.refreshAt === null,
    /** Qt §3 step 8: polling would start only to find the code expired. */
    expiresBeforeFirstPoll: (_, authorization: DeviceAuthorization) => authorization.interval >= authorization.expiresIn,
    isPending: (_, outcome: PollOutcome) => outcome.kind === 'pending',
    isSlowDown: (_, outcome: PollOutcome) => outcome.kind === 'slowDown',
    faultToRideOut: ({ context }, { error }: { error: DeviceFlowError }) => retryable(error, context),
    // Delays longer than a timer can wait fire at a checkpoint first, which only re-arms the timer.
    checkpointBeforeRefresh: ({ context }) =>
      context.refreshAt !== null && context.refreshCheckpoint !== null && context.refreshCheckpoint < context.refreshAt,
    refreshLeadTimeChanges: ({ context, event }) =>
      event.type === 'UPDATE' && event.settings.refreshLeadTime !== undefined && event.settings.refreshLeadTime !== context.properties.refreshLeadTime,
  },
  actions: {
    /** Assigns the given properties, announcing each change (the class's setters send these). */
    announce: enqueueActions(({ context, enqueue }, changes: Partial<FlowProperties>) => {
      announce(enqueue, context, changes);
    }),
    reportFailure: enqueueActions(({ context, enqueue }, report: FailureReport) => {
      reportFailure(enqueue, context, report);
    }),
    /** Qt §2.1: forget the previous authorization, keeping tokens and settings. */
    resetAuthorization: enqueueActions(({ context, enqueue }) => {
      announce(
        enqueue,
        context,
        {
          userCode: '',
          verificationUrl: null,
          completeVerificationUrl: null,
          userCodeExpirationAt: null,
          extraTokens: {},
          expirationAt: null,
          polling: false,
          nextPollAt: null,
          status: 'NotAuthenticated',
        },
        {
          deviceCode: '',
          pollInterval: DEFAULT_POLL_INTERVAL_SECONDS,
          refreshAt: null,
          refreshCheckpoint: null,
          consecutiveFailures: 0,
          lastFault: null,
          lastError: null,
        },
      );
    }),
    prepareNonce: enqueueActions(({ context, enqueue }) => {
      if (nonceIsSent(context) && context.properties.nonce === '') announce(enqueue, context, { nonce: createNonce() });
    }),
    /** Qt §3 steps 10–14: take the user code, tell the application, start polling. */
    acceptAuthorization: enqueueActions(({ context, enqueue, self }, authorization: DeviceAuthorization) => {
      const now = readClock(self);
      announce(
        enqueue,
        context,
        {
          userCodeExpirationAt: now + authorization.expiresIn * 1000,
          userCode: authorization.userCode,
          verificationUrl: authorization.verificationUrl,
          completeVerificationUrl: authorization.completeVerificationUrl,
          extraTokens: authorization.extraTokens,
          status: 'TemporaryCredentialsReceived',
        },
        { deviceCode: authorization.deviceCode, pollInterval: authorization.interval },
      );
      enqueue.emit({
        type: 'authorizeWithUserCode',
        verificationUrl: authorization.verificationUrl,
        userCode: authorization.userCode,
        completeVerificationUrl: authorization.completeVerificationUrl,
      });
      announce(enqueue, context, { polling: true, nextPollAt: now + authorization.interval * 1000 });
    }),
    /** Qt §5: take the tokens (all or nothing: the parser refuses incomplete responses), then `granted`. */
    acceptTokens: enqueueActions(({ context, enqueue, self }, { tokens, isRefresh }: { tokens: TokenResponse; isRefresh: boolean }) => {
      const now = readClock(self);
      const properties = tokenProperties(context, tokens, now, isRefresh);
      announce(
        enqueue,
        context,
        { ...properties, status: 'Granted' },
        {
          tokenLifetime: tokens.expiresIn,
          ...scheduleRefresh(
            { ...context, properties: { ...context.properties, expirationAt: properties.expirationAt ?? null }, tokenLifetime: tokens.expiresIn },
            now,
            false,
          ),
          // Device codes are single-use: drop the secret once it has done its job.
          ...(isRefresh ? {} : { deviceCode: '' }),
        },
      );
      enqueue.emit({ type: 'granted' });
    }),
    /**
     * The server's `expired_token` ends the code now, whatever `expires_in` said: `startTokenPolling()` must not poll
     * again (Auth0 would answer `invalid_grant`).
     */
    noteServerExpiry: enqueueActions(({ context, enqueue, self }, { error }: { error: DeviceFlowError }) => {
      const now = readClock(self);
      if (error.code === 'ExpiredError' && (context.properties.userCodeExpirationAt === null || context.properties.userCodeExpirationAt > now)) {
        announce(enqueue, context, { userCodeExpirationAt: now });
      }
    }),
    /** After a well-formed answer: the next poll one interval later, and the fault count starts over. */
    scheduleNextPoll: enqueueActions(({ context, enqueue, self }) => {
      announce(enqueue, context, { nextPollAt: readClock(self) + context.pollInterval * 1000 }, context.consecutiveFailures === 0 ? {} : { consecutiveFailures: 0, lastFault: null });
    }),
    /**
     * RFC 8628 §3.5: after a transport fault, wait longer. The back-off doubles per consecutive fault from twice the
     * interval, up to a minute; the wait is never shorter than the interval (a `slow_down` one included) or the
     * server's `Retry-After`.
     */
    backOff: enqueueActions(({ context, enqueue, self }, { error }: { error: DeviceFlowError }) => {
      const faults = context.consecutiveFailures + 1;
      const retryIn = backOffDelay(context.pollInterval, faults, error.retryAfter ?? null);
      const fault = redactKnownSecrets(error, context);
      announce(enqueue, context, { nextPollAt: readClock(self) + retryIn }, { consecutiveFailures: faults, lastFault: fault.toData() });
      enqueue.emit({ type: 'transientError', error: fault, retryIn });
    }),
    markPollingStart: enqueueActions(({ enqueue, self }) => {
      enqueue.assign({ pollingStartedAt: readClock(self), consecutiveFailures: 0, lastFault: null });
    }),
    startPolling: enqueueActions(({ context, enqueue }) => {
      announce(enqueue, context, {
        status: 'TemporaryCredentialsReceived',
        polling: true,
        nextPollAt: firstPollAt(context),
      });
    }),
    stopPolling: enqueueActions(({ context, enqueue }) => {
      announce(enqueue, context, { polling: false, nextPollAt: null });
    }),
    armRefreshCheckpoint: enqueueActions(({ context, enqueue, self }) => {
      const now = readClock(self);
      enqueue.assign({ refreshCheckpoint: context.refreshAt === null ? null : Math.min(context.refreshAt, now + MAX_TIMER_DELAY_MS) });
    }),
    /** Qt §6.3: the signal fires once; with `autoRefresh` and a refresh token it starts a refresh. */
    announceTokenAboutToExpire: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({ refreshAt: null, refreshCheckpoint: null });
      enqueue.emit({ type: 'accessTokenAboutToExpire' });
      if (context.properties.autoRefresh && context.properties.refreshToken !== '') enqueue.raise({ type: 'REFRESH' });
    }),
    /**
     * A flow resumed after its code expired takes the expiry's own transitions now, not on a zero-delay timer: the
     * application must not see it live in between.
     */
    settlePastExpiry: enqueueActions(({ context, enqueue, self }) => {
      if (context.properties.userCodeExpirationAt !== null && readClock(self) >= context.properties.userCodeExpirationAt) enqueue.raise(USER_CODE_EXPIRY_EVENT as never);
    }),
    rescheduleRefreshClientSide: enqueueActions(({ context, enqueue, self }) => {
      enqueue.assign(scheduleRefresh(context, readClock(self), true));
    }),
  },
});

/** The `START_POLLING` transitions (Qt §4.1): check the configuration, then let `poller.starting` check the expiry. */
function startPollingTransitions(target: string) {
  return [
    { guard: 'pollingBlocked', actions: { type: 'reportFailure', params: refusedFor(pollingProblem) } },
    { target, actions: 'markPollingStart' },
  ] as const;
}

/**
 * The device authorization statechart, with placeholder actors. Provide the three actors (`requestDeviceAuthorization`,
 * `pollToken`, `refreshTokens`) with `provide()`, or use `createDeviceAuthorizationMachine()`, which provides the
 * package's HTTP implementations.
 *
 * @see [RFC 8628 §3](https://www.rfc-editor.org/rfc/rfc8628#section-3)
 */
export const deviceAuthorizationChart = flow.createMachine({
  id: 'deviceAuthorization',
  context: ({ input }) => initialContext(input),
  initial: 'idle',
  on: {
    GRANT: [
      {
        guard: 'grantBlocked',
        target: '.failed.authorization',
        actions: ['resetAuthorization', { type: 'reportFailure', params: refusedFor(grantProblem) }],
      },
      { target: '.authorizing', reenter: true, actions: ['resetAuthorization', 'prepareNonce'] },
    ],
    REFRESH: [
      { guard: 'refreshBlocked', actions: { type: 'reportFailure', params: refusedFor(refreshProblem) } },
      { target: '.refreshing', actions: { type: 'announce', params: { status: 'RefreshingToken' } } },
    ],
    START_POLLING: startPollingTransitions('#deviceAuthorization.awaitingUser.poller.starting'),
    UPDATE: { actions: { type: 'announce', params: ({ event }) => event.settings } },
    // In a state with nothing in progress, an unexpected failure is reported and the state kept.
    FAIL: { actions: { type: 'reportFailure', params: ({ event }) => ({ error: event.error }) } },
  },
  states: {
    idle: {
      tags: 'NotAuthenticated',
    },

    authorizing: {
      tags: 'NotAuthenticated',
      invoke: {
        id: 'requestDeviceAuthorization',
        src: 'requestDeviceAuthorization',
        input: ({ context }) => ({
          ...clientRequest(context, context.properties.authorizationUrl),
          scope: context.properties.requestedScopeTokens,
          nonce: nonceIsSent(context) ? context.properties.nonce : null,
        }),
        onDone: [
          {
            guard: { type: 'expiresBeforeFirstPoll', params: ({ event }) => event.output },
            target: 'failed.authorization',
            actions: { type: 'reportFailure', params: expired },
          },
          { target: 'awaitingUser', actions: { type: 'acceptAuthorization', params: ({ event }) => event.output } },
        ],
        onError: {
          target: 'failed.authorization',
          actions: { type: 'reportFailure', params: ({ event }) => ({ error: asDeviceFlowError(event.error) }) },
        },
      },
      on: {
        // Restored without its request (see readFlowSnapshot): send it again, checked against the settings in force now.
        RESUME: [
          { guard: 'grantBlocked', target: 'failed.authorization', actions: { type: 'reportFailure', params: refusedFor(grantProblem) } },
          { target: 'authorizing', reenter: true },
        ],
        REFRESH: { actions: { type: 'reportFailure', params: refused('Cannot refresh while a device authorization request is in flight') } },
        START_POLLING: { actions: { type: 'reportFailure', params: refused('No device code to poll with yet: the device authorization request is in flight') } },
        FAIL: { target: 'failed.authorization', actions: { type: 'reportFailure', params: ({ event }) => ({ error: event.error }) } },
      },
    },

    awaitingUser: {
      type: 'parallel',
      tags: 'TemporaryCredentialsReceived',
      on: {
        FAIL: { target: 'failed.polling', actions: [{ type: 'reportFailure', params: ({ event }) => ({ error: event.error }) }, 'stopPolling'] },
      },
      states: {
        userCode: {
          initial: 'valid',
          states: {
            valid: {
              after: {
                untilUserCodeExpiry: [
                  // Qt §4.2: with polling stopped, nothing is reported at expiry; startTokenPolling() reports it.
                  { guard: stateIn('#deviceAuthorization.awaitingUser.poller.stopped'), target: 'expired' },
                  {
                    target: '#deviceAuthorization.failed.polling',
                    actions: [{ type: 'reportFailure', params: ({ context }) => expiredOrUnreachable(context) }, 'stopPolling'],
                  },
                ],
              },
              on: { RESUME: { target: 'valid', reenter: true, actions: 'settlePastExpiry' } },
            },
            expired: {},
          },
        },
        poller: {
          initial: 'waiting',
          states: {
            waiting: {
              tags: 'polling',
              after: {
                untilNextPoll: [
                  {
                    // The application may have cleared or changed the token URL since polling started.
                    guard: 'pollingBlocked',
                    target: '#deviceAuthorization.failed.polling',
                    actions: [{ type: 'reportFailure', params: refusedFor(pollingProblem) }, 'stopPolling'],
                  },
                  // A poll due at or after the expiry never goes out: the expiry fires instead.
                  { guard: 'nextPollBeforeExpiry', target: 'requesting' },
                ],
              },
              on: {
                RESUME: { target: 'waiting', reenter: true },
                STOP_POLLING: { target: 'stopped', actions: 'stopPolling' },
                START_POLLING: {},
                REFRESH: { actions: { type: 'reportFailure', params: refused('Cannot refresh while polling is in progress') } },
              },
            },
            requesting: {
              tags: 'polling',
              invoke: {
                id: 'pollToken',
                src: 'pollToken',
                input: ({ context }) => ({
                  url: context.properties.tokenUrl ?? '',
                  clientIdentifier: context.properties.clientIdentifier,
                  clientAuthentication: context.properties.clientAuthentication,
                  deviceCode: context.deviceCode,
                  requestedScopeTokens: context.properties.requestedScopeTokens,
                  notAfter: context.properties.userCodeExpirationAt,
                }),
                onDone: [
                  { guard: { type: 'isPending', params: ({ event }) => event.output }, target: 'waiting', actions: 'scheduleNextPoll' },
                  {
                    guard: { type: 'isSlowDown', params: ({ event }) => event.output },
                    target: 'waiting',
                    actions: [
                      assign({
                        pollInterval: ({ context, event }) =>
                          slowedDownInterval(context.pollInterval, event.output.kind === 'slowDown' ? event.output.interval : null),
                      }),
                      'scheduleNextPoll',
                    ],
                  },
                  {
                    target: '#deviceAuthorization.granted',
                    actions: [
                      {
                        type: 'acceptTokens',
                        params: ({ event }) => ({ tokens: (event.output as Extract<PollOutcome, { kind: 'granted' }>).tokens, isRefresh: false }),
                      },
                      'stopPolling',
                    ],
                  },
                ],
                onError: [
                  {
                    guard: { type: 'faultToRideOut', params: ({ event }) => ({ error: asDeviceFlowError(event.error) }) },
                    target: 'waiting',
                    actions: { type: 'backOff', params: ({ event }) => ({ error: asDeviceFlowError(event.error) }) },
                  },
                  {
                    target: '#deviceAuthorization.failed.polling',
                    actions: [
                      { type: 'noteServerExpiry', params: ({ event }) => ({ error: asDeviceFlowError(event.error) }) },
                      { type: 'reportFailure', params: ({ event }) => ({ error: asDeviceFlowError(event.error) }) },
                      'stopPolling',
                    ],
                  },
                ],
              },
              on: {
                STOP_POLLING: { target: 'stopped', actions: 'stopPolling' },
                START_POLLING: {},
                REFRESH: { actions: { type: 'reportFailure', params: refused('Cannot refresh while polling is in progress') } },
                // Restored without its request (see readFlowSnapshot): send it again, with the settings in force now.
                // Refused, polling stops within awaitingUser: a transition out of it would conflict with the user-code
                // region's own RESUME, and lose to it.
                RESUME: [
                  { guard: 'pollingBlocked', target: 'stopped', actions: [{ type: 'reportFailure', params: refusedFor(pollingProblem) }, 'stopPolling'] },
                  { target: 'requesting', reenter: true },
                ],
              },
            },
            stopped: {
              on: { START_POLLING: startPollingTransitions('starting') },
            },
            // Qt §4.1: polling does not start when its first poll would fall after the expiry.
            starting: {
              always: [
                { guard: 'firstPollBeforeExpiry', target: 'waiting', actions: 'startPolling' },
                {
                  target: '#deviceAuthorization.failed.polling',
                  actions: [{ type: 'reportFailure', params: () => ({ ...expired(), status: 'TemporaryCredentialsReceived' as const }) }, 'stopPolling'],
                },
              ],
            },
          },
        },
      },
    },

    granted: {
      tags: 'Granted',
      initial: 'refreshScheduled',
      states: {
        refreshScheduled: {
          entry: 'armRefreshCheckpoint',
          always: { guard: 'noRefreshScheduled', target: 'refreshUnscheduled' },
          after: {
            untilRefreshCheckpoint: [
              { guard: 'checkpointBeforeRefresh', target: 'refreshScheduled', reenter: true },
              { target: 'refreshUnscheduled', actions: 'announceTokenAboutToExpire' },
            ],
          },
          on: { RESUME: { target: 'refreshScheduled', reenter: true } },
        },
        refreshUnscheduled: {},
      },
      on: {
        UPDATE: [
          {
            guard: 'refreshLeadTimeChanges',
            target: '.refreshScheduled',
            reenter: true,
            actions: [{ type: 'announce', params: ({ event }) => event.settings }, 'rescheduleRefreshClientSide'],
          },
          { actions: { type: 'announce', params: ({ event }) => event.settings } },
        ],
      },
    },

    refreshing: {
      tags: 'RefreshingToken',
      invoke: {
        id: 'refreshTokens',
        src: 'refreshTokens',
        input: ({ context }) => ({
          ...clientRequest(context, context.properties.tokenUrl),
          refreshToken: context.properties.refreshToken,
          requestedScopeTokens: context.properties.requestedScopeTokens,
        }),
        onDone: {
          target: 'granted',
          actions: { type: 'acceptTokens', params: ({ event }) => ({ tokens: event.output, isRefresh: true }) },
        },
        onError: [
          {
            guard: 'hasAccessToken',
            target: 'granted',
            actions: { type: 'reportFailure', params: ({ event }) => ({ error: asDeviceFlowError(event.error), status: 'Granted' as const }) },
          },
          {
            target: 'failed.refresh',
            actions: {
              type: 'reportFailure',
              params: ({ event }) => ({ error: asDeviceFlowError(event.error), status: 'NotAuthenticated' as const }),
            },
          },
        ],
      },
      on: {
        REFRESH: {},
        // Restored without its request (see readFlowSnapshot): send it again, checked against the settings in force now.
        RESUME: [
          {
            guard: and(['refreshBlocked', 'hasAccessToken']),
            target: 'granted',
            actions: { type: 'reportFailure', params: ({ context }) => ({ ...refusedFor(refreshProblem)({ context }), status: 'Granted' as const }) },
          },
          {
            guard: 'refreshBlocked',
            target: 'failed.refresh',
            actions: { type: 'reportFailure', params: ({ context }) => ({ ...refusedFor(refreshProblem)({ context }), status: 'NotAuthenticated' as const }) },
          },
          { target: 'refreshing', reenter: true },
        ],
        START_POLLING: { actions: { type: 'reportFailure', params: refused('Cannot poll while a refresh request is in flight') } },
        // As a failed refresh request: the access token, if any, stays usable.
        FAIL: [
          {
            guard: 'hasAccessToken',
            target: 'granted',
            actions: { type: 'reportFailure', params: ({ event }) => ({ error: event.error, status: 'Granted' as const }) },
          },
          { target: 'failed.refresh', actions: { type: 'reportFailure', params: ({ event }) => ({ error: event.error, status: 'NotAuthenticated' as const }) } },
        ],
      },
    },

    failed: {
      initial: 'authorization',
      states: {
        authorization: { tags: 'NotAuthenticated' },
        polling: { tags: 'TemporaryCredentialsReceived' },
        refresh: { tags: 'NotAuthenticated' },
      },
    },
  },
});

/**
 * The type of {@link deviceAuthorizationChart} and of every machine made from it with `provide()`.
 *
 * @see [XState machines](https://stately.ai/docs/machines)
 */
export type DeviceAuthorizationMachine = typeof deviceAuthorizationChart;
