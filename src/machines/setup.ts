/**
 * The statechart's vocabulary: its types, its three named actors (placeholders here), its delays, guards and actions.
 * The chart itself, in deviceAuthorization.ts and awaitingUser.ts, only arranges them.
 *
 * Every change of a property goes through {@link announce}, which assigns it and emits its `…Changed` event; actions
 * that touch only the bookkeeping are plain `assign`s.
 *
 * @module
 */

import { assign, enqueueActions, fromPromise, setup } from 'xstate';
import { DeviceFlowError, isDeviceFlowError, USER_CODE_EXPIRED } from '../core/errors.js';
import { type FlowProperties, resetProperties } from '../core/propertyRules.js';
import type { DeviceAuthorization } from '../core/protocol/deviceAuthorizationResponse.js';
import { DEFAULT_POLL_INTERVAL_SECONDS } from '../core/protocol/pollInterval.js';
import type { PollOutcome, TokenResponse } from '../core/protocol/tokenResponse.js';
import { announce, type FailureReport, redactKnownSecrets, reportFailure } from './announcements.js';
import { drawRandom, readClock } from './clock.js';
import { createNonce } from './nonce.js';
import { grantProblem, pollingProblem, refreshProblem, revocationProblem } from './preconditions.js';
import { backOffDelay, delayUntil, MAX_TIMER_DELAY_MS, pollJitterDelay, refreshSignalAt, slowedDownInterval } from './timing.js';
import { initialProperties, SETTING_NAMES } from '../core/propertyRules.js';
import type {
  ClientRequest,
  DeviceAuthorizationRequest,
  DeviceFlowContext,
  DeviceFlowEmitted,
  DeviceFlowEvent,
  DeviceFlowInput,
  DeviceTokenRequest,
  IdTokenValidationRequest,
  RefreshTokenRequest,
  RevocationRequest,
  StoredTokens,
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

/** The report of an actor's rejection (an `xstate.error.actor.*` event), for `reportFailure`. */
export function failureOf({ event }: { event: { error: unknown } }): FailureReport {
  return { error: asDeviceFlowError(event.error) };
}

/** The report of a call refused in this state, for `reportFailure`. */
export function refusal(message: string): () => FailureReport {
  return () => ({ error: new DeviceFlowError('ClientError', message) });
}

/** The report of a call refused because of what `problem` finds wrong with the configuration, for `reportFailure`. */
export function refusalFor(problem: (context: DeviceFlowContext) => string | null) {
  return ({ context }: { context: DeviceFlowContext }): FailureReport => ({ error: new DeviceFlowError('ClientError', problem(context) ?? 'Refused') });
}

/** The report of the user code's expiry. */
export function expiryReport(): FailureReport {
  return { error: new DeviceFlowError('ExpiredError', USER_CODE_EXPIRED) };
}

/** At the expiry: `ExpiredError`, or `NetworkError` when the server was unreachable for the last polls (RFC 8628 §3.5). */
export function expiryOrOutageReport({ context }: { context: DeviceFlowContext }): FailureReport {
  if (context.consecutiveFailures === 0 || context.lastFault === null) return expiryReport();
  const { code: _code, message, ...fields } = context.lastFault;
  return { error: new DeviceFlowError('NetworkError', `The user code expired while the authorization server could not be reached (${message})`, fields) };
}

/**
 * Whether a failed poll is a transport fault to ride out (RFC 8628 §3.5): a `NetworkError`, while the budget of
 * consecutive faults lasts.
 */
function retryable(error: DeviceFlowError, context: DeviceFlowContext): boolean {
  return error.code === 'NetworkError' && (context.properties.maxConsecutiveFailures === null || context.consecutiveFailures < context.properties.maxConsecutiveFailures);
}

/** The part of every actor's input that names the endpoint and the client. */
function clientRequest(context: DeviceFlowContext, url: string | null): ClientRequest {
  return { url: url ?? '', clientIdentifier: context.properties.clientIdentifier, clientAuthentication: context.properties.clientAuthentication };
}

/**
 * The input of a request actor: the endpoint `endpoint` names and the client, with `input`'s members (what each
 * request adds).
 */
export function requestInput<Input>(endpoint: 'authorizationUrl' | 'tokenUrl' | 'revocationUrl', input: (context: DeviceFlowContext) => Input) {
  return ({ context }: { context: DeviceFlowContext }): ClientRequest & Input => ({ ...clientRequest(context, context.properties[endpoint]), ...input(context) });
}

/**
 * The input of the `validateIdToken` actor for the tokens held in `receivedTokens`: at the grant, or (`isRefresh`)
 * at a refresh, whose ID token must be about the same subject as the one it replaces.
 */
export function validationInput(isRefresh: boolean) {
  return ({ context, self }: { context: DeviceFlowContext; self: Parameters<typeof readClock>[0] }): IdTokenValidationRequest => {
    const { properties } = context;
    return {
      idToken: context.receivedTokens?.idToken ?? '',
      issuer: properties.issuer ?? '',
      jwksUrl: properties.jwksUrl ?? '',
      clientIdentifier: properties.clientIdentifier,
      nonce: nonceIsSent(context) && properties.nonce !== '' ? properties.nonce : null,
      algorithms: properties.idTokenSigningAlgorithms,
      clockTolerance: properties.clockTolerance,
      previousClaims: isRefresh ? properties.idTokenClaims : null,
      now: readClock(self),
    };
  };
}

/** Whether the device authorization request carries a nonce: always when enabled, with `openid` when automatic. */
export function nonceIsSent(context: DeviceFlowContext): boolean {
  return context.properties.nonceMode === 'Enabled' || (context.properties.nonceMode === 'Automatic' && context.properties.requestedScopeTokens.includes('openid'));
}

/**
 * What the `acceptTokens` action takes: a token response, whether a refresh answered it, and its ID token's validated
 * claims.
 *
 * @see [RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1)
 * @see [OpenID Connect Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation)
 */
export interface AcceptedTokens {
  tokens: TokenResponse;
  isRefresh: boolean;
  /** The claims of `tokens.idToken` when it was validated; `null` when it was not (no issuer set). */
  claims: Record<string, unknown> | null;
}

/** The token properties a token response sets, in Qt's announcement order (docs/qt-behaviour.md, "Tokens"). */
function tokenProperties(context: DeviceFlowContext, { tokens, isRefresh, claims }: AcceptedTokens, now: number): Partial<FlowProperties> {
  // A refresh response may omit the ID token (OpenID Connect Core §12.2); the one from the grant then stays.
  const keepsIdToken = isRefresh && tokens.idToken === '';
  return {
    ...(tokens.refreshToken === null ? {} : { refreshToken: tokens.refreshToken }),
    token: tokens.accessToken,
    grantedScopeTokens: tokens.grantedScopeTokens,
    ...(keepsIdToken ? {} : { idToken: tokens.idToken }),
    expirationAt: tokens.expiresIn === null ? null : now + tokens.expiresIn * 1000,
    extraTokens: { ...context.properties.extraTokens, ...tokens.extraTokens },
    tokenType: tokens.tokenType,
    ...(keepsIdToken ? {} : { idTokenClaims: tokens.idToken === '' ? null : claims }),
  };
}

/**
 * The tokens `revokeTokens()` sends, refresh tokens first: the flow's, and any received but still being validated
 * (the server issued them: they are live there).
 */
export function tokensToRevoke({ properties, receivedTokens }: DeviceFlowContext): RevocationRequest['tokens'] {
  const refresh = [properties.refreshToken, receivedTokens?.refreshToken ?? ''];
  const access = [properties.token, receivedTokens?.accessToken ?? ''];
  return [
    ...[...new Set(refresh)].filter((token) => token !== '').map((token) => ({ token, hint: 'refresh_token' as const })),
    ...[...new Set(access)].filter((token) => token !== '').map((token) => ({ token, hint: 'access_token' as const })),
  ];
}

/** The bookkeeping of a flow that holds no tokens. */
const NO_TOKEN_BOOKKEEPING = { refreshAt: null, refreshCheckpoint: null, tokenLifetime: null, receivedTokens: null } as const;

/** The properties of a flow that holds no tokens: what `revokeTokens()` leaves. */
const NO_TOKENS: Partial<FlowProperties> = { token: '', refreshToken: '', idToken: '', expirationAt: null, grantedScopeTokens: [], tokenType: '', idTokenClaims: null };

/**
 * The poll jitter for the next wait: from 0 to the `pollJitter` setting's milliseconds, at random (RFC 8628 §3.5:
 * added to the interval, never taken from it). No draw is made when it is off.
 */
function pollJitter(context: DeviceFlowContext, self: Parameters<typeof drawRandom>[0]): number {
  const bound = context.properties.pollJitter;
  return bound > 0 ? pollJitterDelay(bound, drawRandom(self)) : 0;
}

/** Polling resumed by `startTokenPolling()` waits one full interval before its first poll, as Qt's does. */
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

/** The bookkeeping of a flow with no authorization out: what the context starts with, and what `grant()` resets. */
const FRESH_BOOKKEEPING: Omit<DeviceFlowContext, 'properties' | 'tokenLifetime' | 'pollingStartedAt'> = {
  deviceCode: '',
  pollInterval: DEFAULT_POLL_INTERVAL_SECONDS,
  refreshAt: null,
  refreshCheckpoint: null,
  consecutiveFailures: 0,
  lastFault: null,
  lastError: null,
  receivedTokens: null,
  nonceRetried: false,
};

/** The context of a new flow: every property at its default, `input`'s settings over them. */
export function initialContext(input: DeviceFlowInput = {}): DeviceFlowContext {
  const properties = initialProperties();
  for (const name of SETTING_NAMES) {
    const value = input[name];
    // Lists are copied: the caller's array must not become the context's.
    if (value !== undefined) (properties as Record<string, unknown>)[name] = Array.isArray(value) ? [...value] : value;
  }
  return { properties, ...FRESH_BOOKKEEPING, tokenLifetime: null, pollingStartedAt: null };
}

/** The statechart's setup: what deviceAuthorization.ts and awaitingUser.ts build the chart from. */
export const deviceFlowSetup = setup({
  types: {
    context: {} as DeviceFlowContext,
    input: {} as DeviceFlowInput,
    events: {} as DeviceFlowEvent,
    emitted: {} as DeviceFlowEmitted,
  },
  actors: {
    requestDeviceAuthorization: fromPromise<DeviceAuthorization, DeviceAuthorizationRequest>(notProvided('requestDeviceAuthorization')),
    pollToken: fromPromise<PollOutcome, DeviceTokenRequest>(notProvided('pollToken')),
    refreshTokens: fromPromise<TokenResponse, RefreshTokenRequest>(notProvided('refreshTokens')),
    validateIdToken: fromPromise<Record<string, unknown>, IdTokenValidationRequest>(notProvided('validateIdToken')),
    revokeTokens: fromPromise<void, RevocationRequest>(notProvided('revokeTokens')),
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
    // Polling would start only to find the code expired.
    expiresBeforeFirstPoll: (_, authorization: DeviceAuthorization) => authorization.interval >= authorization.expiresIn,
    isPending: (_, outcome: PollOutcome) => outcome.kind === 'pending',
    isSlowDown: (_, outcome: PollOutcome) => outcome.kind === 'slowDown',
    faultToRideOut: ({ context }, { error }: { error: DeviceFlowError }) => retryable(error, context),
    // OpenID Connect Core §3.1.3.7 applies once the flow knows whom to expect the ID token from.
    idTokenToValidate: ({ context }, tokens: TokenResponse) => context.properties.issuer !== null && tokens.idToken !== '',
    // RFC 9449 §8: the server wants a nonce in the proof; one retry carries the one it just sent.
    dpopNonceChallenge: ({ context }, { error }: { error: DeviceFlowError }) => error.code === 'ServerError' && error.error === 'use_dpop_nonce' && !context.nonceRetried,
    nothingToRevoke: ({ context }) => tokensToRevoke(context).length === 0,
    revocationUnavailable: ({ context }) => revocationProblem(context) !== null,
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
    /** `grant()` forgets the previous authorization, keeping tokens and settings (docs/qt-behaviour.md, "grant()"). */
    resetAuthorization: enqueueActions(({ context, enqueue }) => {
      announce(enqueue, context, resetProperties(), FRESH_BOOKKEEPING);
    }),
    /** `revokeTokens()` abandons the authorization as `grant()` does, but tokens being validated are revoked too. */
    abandonForRevocation: enqueueActions(({ context, enqueue }) => {
      announce(enqueue, context, resetProperties(), { ...FRESH_BOOKKEEPING, receivedTokens: context.receivedTokens });
    }),
    prepareNonce: enqueueActions(({ context, enqueue }) => {
      if (nonceIsSent(context) && context.properties.nonce === '') announce(enqueue, context, { nonce: createNonce() });
    }),
    /** Takes the user code, tells the application, starts polling (docs/qt-behaviour.md, "The user code"). */
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
      announce(enqueue, context, { polling: true, nextPollAt: now + authorization.interval * 1000 + pollJitter(context, self) });
    }),
    /** Takes the tokens (all or nothing: the parser refuses incomplete responses), then `granted`. */
    acceptTokens: enqueueActions(({ context, enqueue, self }, accepted: AcceptedTokens) => {
      const { tokens, isRefresh } = accepted;
      const now = readClock(self);
      const properties = tokenProperties(context, accepted, now);
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
          receivedTokens: null,
        },
      );
      enqueue.emit({ type: 'granted' });
    }),
    /** Keeps a token response while its ID token is validated; a device code that got one is spent. */
    holdTokens: assign((_, tokens: TokenResponse) => ({ receivedTokens: tokens, deviceCode: '' })),
    /** Tokens whose ID token failed validation are not kept: all or nothing. */
    dropReceivedTokens: assign({ receivedTokens: null }),
    markNonceRetry: assign({ nonceRetried: true }),
    forgetNonceRetry: assign({ nonceRetried: false }),
    /** `revokeTokens()`: the tokens are forgotten whatever the server said, and the application learns how it went. */
    forgetTokens: enqueueActions(({ context, enqueue }, { error }: { error: DeviceFlowError | null }) => {
      announce(enqueue, context, NO_TOKENS, NO_TOKEN_BOOKKEEPING);
      enqueue.emit({ type: 'revoked', error: error === null ? null : redactKnownSecrets(error, context) });
    }),
    /** Tokens refused by the server are forgotten here; a sign-in is what can bring new ones. */
    clearTokens: enqueueActions(({ context, enqueue }) => {
      announce(enqueue, context, { ...NO_TOKENS, status: 'NotAuthenticated' }, NO_TOKEN_BOOKKEEPING);
    }),
    /** Tokens another flow of the same sign-in got, newer than these: taken as they are, and the refresh re-armed. */
    adoptTokens: enqueueActions(({ context, enqueue, self }, tokens: StoredTokens) => {
      const now = readClock(self);
      announce(enqueue, context, { ...tokens, status: 'Granted' }, {
        ...NO_TOKEN_BOOKKEEPING,
        deviceCode: '',
        ...scheduleRefresh({ ...context, properties: { ...context.properties, expirationAt: tokens.expirationAt }, tokenLifetime: null }, now, true),
      });
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
    /** After a well-formed answer: the next poll one interval (and the jitter) later, and the fault count starts over. */
    scheduleNextPoll: enqueueActions(({ context, enqueue, self }) => {
      const nextPollAt = readClock(self) + context.pollInterval * 1000 + pollJitter(context, self);
      announce(enqueue, context, { nextPollAt }, context.consecutiveFailures === 0 ? {} : { consecutiveFailures: 0, lastFault: null });
    }),
    /** `slow_down`: a longer interval from now on (RFC 8628 §3.5). */
    slowDown: assign({
      pollInterval: ({ context }, outcome: PollOutcome) => slowedDownInterval(context.pollInterval, outcome.kind === 'slowDown' ? outcome.interval : null),
    }),
    /**
     * RFC 8628 §3.5: after a transport fault, wait longer. The back-off doubles per consecutive fault from twice the
     * interval, up to a minute; the wait is never shorter than the interval (a `slow_down` one included) or the
     * server's `Retry-After`. The jitter is added, so that flows an outage failed together do not all retry together.
     */
    backOff: enqueueActions(({ context, enqueue, self }, { error }: { error: DeviceFlowError }) => {
      const faults = context.consecutiveFailures + 1;
      const retryIn = backOffDelay(context.pollInterval, faults, error.retryAfter ?? null) + pollJitter(context, self);
      const fault = redactKnownSecrets(error, context);
      announce(enqueue, context, { nextPollAt: readClock(self) + retryIn }, { consecutiveFailures: faults, lastFault: fault.toData() });
      enqueue.emit({ type: 'transientError', error: fault, retryIn });
    }),
    markPollingStart: assign(({ self }) => ({ pollingStartedAt: readClock(self), consecutiveFailures: 0, lastFault: null })),
    startPolling: enqueueActions(({ context, enqueue, self }) => {
      announce(enqueue, context, { status: 'TemporaryCredentialsReceived', polling: true, nextPollAt: firstPollAt(context) + pollJitter(context, self) });
    }),
    stopPolling: enqueueActions(({ context, enqueue }) => {
      announce(enqueue, context, { polling: false, nextPollAt: null });
    }),
    armRefreshCheckpoint: assign(({ context, self }) => ({
      refreshCheckpoint: context.refreshAt === null ? null : Math.min(context.refreshAt, readClock(self) + MAX_TIMER_DELAY_MS),
    })),
    /** The signal fires once; with `autoRefresh` and a refresh token it starts a refresh (docs/qt-behaviour.md). */
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
      if (context.properties.userCodeExpirationAt !== null && readClock(self) >= context.properties.userCodeExpirationAt) enqueue.raise({ type: 'USER_CODE_EXPIRED' });
    }),
    rescheduleRefreshClientSide: assign(({ context, self }) => scheduleRefresh(context, readClock(self), true)),
  },
});
