/**
 * The OAuth 2.0 Device Authorization Grant as a statechart.
 *
 * ```
 * idle ─GRANT─▶ authorizing ─▶ awaitingUser ─▶ (verifyingIdToken) ─▶ granted ⇄ refreshing (requesting ─▶ verifyingIdToken)
 *                    │          ├ userCode: valid ─▶ expired
 *                    │          └ poller:   waiting ⇄ requesting, stopped
 *                    └────────────────┴──────────────────┴──────▶ failed (authorization | polling | refresh)
 * any state ─REVOKE─▶ revoking ─▶ idle
 * ```
 *
 * The chart is pure: HTTP happens in the named actors, which are placeholders here and are filled in with
 * `machine.provide({ actors })` (the package's `createDeviceAuthorizationMachine()` does so). Time comes from the
 * actor's clock, every wait is a delayed transition whose delay is derived from an absolute timestamp in the context,
 * and every property change is announced with an emitted `…Changed` event in Qt's order.
 *
 * @module
 * @see [RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)
 */

import { and } from 'xstate';
import type { FlowStatus } from '../core/properties.js';
import type { FailureReport } from './announcements.js';
import { awaitingUser, startPollingTransitions } from './awaitingUser.js';
import { grantProblem, refreshProblem, revocationProblem } from './preconditions.js';
import {
  deviceFlowSetup,
  expiryReport,
  failureOf,
  initialContext,
  nonceIsSent,
  refusal,
  refusalFor,
  requestInput,
  tokensToRevoke,
  validationInput,
} from './setup.js';
import type { DeviceFlowEvent } from './types.js';

/** `report`, with the status to announce before `requestFailed`. */
function reportingStatus<Args>(report: (args: Args) => FailureReport, status: FlowStatus) {
  return (args: Args): FailureReport => ({ ...report(args), status });
}

/**
 * A failed refresh, as Qt ends one: back to `granted` while an access token is there, to `failed.refresh` otherwise,
 * the status announced before `requestFailed`. Tokens held for validation are dropped.
 */
function refreshFailed<Args>(report: (args: Args) => FailureReport) {
  return [
    {
      guard: 'hasAccessToken',
      target: '#deviceAuthorization.granted',
      actions: ['dropReceivedTokens', { type: 'reportFailure', params: reportingStatus(report, 'Granted') }],
    } as const,
    {
      target: '#deviceAuthorization.failed.refresh',
      actions: ['dropReceivedTokens', { type: 'reportFailure', params: reportingStatus(report, 'NotAuthenticated') }],
    } as const,
  ];
}

/** The outcome of `revokeTokens()`: the tokens forgotten, and the error of telling the server, if any. */
function revocationOutcome<Args>(report: ((args: Args) => FailureReport) | null) {
  return { type: 'forgetTokens', params: (args: Args) => ({ error: report === null ? null : report(args).error }) } as const;
}

/** The error a `FAIL` event carries. */
function failed({ event }: { event: DeviceFlowEvent }): FailureReport {
  return { error: (event as Extract<DeviceFlowEvent, { type: 'FAIL' }>).error };
}

/**
 * The device authorization statechart, with placeholder actors. Provide the three actors (`requestDeviceAuthorization`,
 * `pollToken`, `refreshTokens`) with `provide()`, or use `createDeviceAuthorizationMachine()`, which provides the
 * package's HTTP implementations.
 *
 * @see [RFC 8628 §3](https://www.rfc-editor.org/rfc/rfc8628#section-3)
 */
export const deviceAuthorizationChart = deviceFlowSetup.createMachine({
  id: 'deviceAuthorization',
  context: ({ input }) => initialContext(input),
  initial: 'idle',
  on: {
    GRANT: [
      {
        guard: 'grantBlocked',
        target: '.failed.authorization',
        actions: ['resetAuthorization', { type: 'reportFailure', params: refusalFor(grantProblem) }],
      },
      { target: '.authorizing', reenter: true, actions: ['resetAuthorization', 'prepareNonce'] },
    ],
    REFRESH: [
      { guard: 'refreshBlocked', actions: { type: 'reportFailure', params: refusalFor(refreshProblem) } },
      { target: '.refreshing', actions: { type: 'announce', params: { status: 'RefreshingToken' } } },
    ],
    START_POLLING: startPollingTransitions('#deviceAuthorization.awaitingUser.poller.starting'),
    // Signing out abandons whatever is in progress, as grant() does (RFC 7009).
    REVOKE: [
      { guard: 'nothingToRevoke', target: '.idle', actions: ['resetAuthorization', revocationOutcome(null)] },
      { guard: 'revocationUnavailable', target: '.idle', actions: ['resetAuthorization', revocationOutcome(refusalFor(revocationProblem))] },
      { target: '.revoking', actions: 'abandonForRevocation' },
    ],
    // Another flow of the same sign-in refreshed: its tokens replace these, and whatever was in progress ends.
    ADOPT_TOKENS: { target: '.granted', actions: ['stopPolling', { type: 'adoptTokens', params: ({ event }) => event.tokens }] },
    FORGET_TOKENS: { target: '.idle', actions: ['resetAuthorization', 'clearTokens'] },
    UPDATE: { actions: { type: 'announce', params: ({ event }) => event.settings } },
    // In a state with nothing in progress, an unexpected failure is reported and the state kept.
    FAIL: { actions: { type: 'reportFailure', params: failed } },
  },
  states: {
    idle: {},

    authorizing: {
      invoke: {
        id: 'requestDeviceAuthorization',
        src: 'requestDeviceAuthorization',
        input: requestInput('authorizationUrl', (context) => ({
          scope: context.properties.requestedScopeTokens,
          nonce: nonceIsSent(context) ? context.properties.nonce : null,
        })),
        onDone: [
          {
            guard: { type: 'expiresBeforeFirstPoll', params: ({ event }) => event.output },
            target: 'failed.authorization',
            actions: { type: 'reportFailure', params: expiryReport },
          },
          { target: 'awaitingUser', actions: { type: 'acceptAuthorization', params: ({ event }) => event.output } },
        ],
        onError: { target: 'failed.authorization', actions: { type: 'reportFailure', params: failureOf } },
      },
      on: {
        // Restored without its request (see readFlowSnapshot): send it again, checked against the settings in force now.
        RESUME: [
          { guard: 'grantBlocked', target: 'failed.authorization', actions: { type: 'reportFailure', params: refusalFor(grantProblem) } },
          { target: 'authorizing', reenter: true },
        ],
        REFRESH: { actions: { type: 'reportFailure', params: refusal('Cannot refresh while a device authorization request is in flight') } },
        START_POLLING: { actions: { type: 'reportFailure', params: refusal('No device code to poll with yet: the device authorization request is in flight') } },
        FAIL: { target: 'failed.authorization', actions: { type: 'reportFailure', params: failed } },
      },
    },

    awaitingUser,

    // The tokens of the grant wait here while their ID token is validated (OpenID Connect Core §3.1.3.7).
    verifyingIdToken: {
      invoke: {
        id: 'validateIdToken',
        src: 'validateIdToken',
        input: validationInput(false),
        onDone: {
          target: 'granted',
          actions: { type: 'acceptTokens', params: ({ context, event }) => ({ tokens: context.receivedTokens!, isRefresh: false, claims: event.output }) },
        },
        onError: { target: 'failed.polling', actions: ['dropReceivedTokens', { type: 'reportFailure', params: failureOf }] },
      },
      on: {
        RESUME: { target: 'verifyingIdToken', reenter: true },
        REFRESH: { actions: { type: 'reportFailure', params: refusal('Cannot refresh while the ID token of the grant is being validated') } },
        START_POLLING: { actions: { type: 'reportFailure', params: refusal('The device code has been used: its tokens are being validated') } },
        FAIL: { target: 'failed.polling', actions: ['dropReceivedTokens', { type: 'reportFailure', params: failed }] },
      },
    },

    granted: {
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
      initial: 'requesting',
      states: {
        requesting: {
          exit: 'forgetNonceRetry',
          invoke: {
            id: 'refreshTokens',
            src: 'refreshTokens',
            input: requestInput('tokenUrl', (context) => ({
              refreshToken: context.properties.refreshToken,
              requestedScopeTokens: context.properties.requestedScopeTokens,
            })),
            onDone: [
              {
                guard: { type: 'idTokenToValidate', params: ({ event }) => event.output },
                target: 'verifyingIdToken',
                actions: { type: 'holdTokens', params: ({ event }) => event.output },
              },
              {
                target: '#deviceAuthorization.granted',
                actions: { type: 'acceptTokens', params: ({ event }) => ({ tokens: event.output, isRefresh: true, claims: null }) },
              },
            ],
            onError: [
              { guard: { type: 'dpopNonceChallenge', params: failureOf }, target: 'requesting', reenter: true, actions: 'markNonceRetry' },
              ...refreshFailed(failureOf),
            ],
          },
          on: {
            // Restored without its request (see readFlowSnapshot): send it again, checked against the settings in force now.
            RESUME: [
              {
                guard: and(['refreshBlocked', 'hasAccessToken']),
                target: '#deviceAuthorization.granted',
                actions: { type: 'reportFailure', params: reportingStatus(refusalFor(refreshProblem), 'Granted') },
              },
              {
                guard: 'refreshBlocked',
                target: '#deviceAuthorization.failed.refresh',
                actions: { type: 'reportFailure', params: reportingStatus(refusalFor(refreshProblem), 'NotAuthenticated') },
              },
              { target: 'requesting', reenter: true },
            ],
          },
        },
        // A refreshed ID token must be valid and about the same person (OpenID Connect Core §12.2).
        verifyingIdToken: {
          invoke: {
            id: 'validateIdToken',
            src: 'validateIdToken',
            input: validationInput(true),
            onDone: {
              target: '#deviceAuthorization.granted',
              actions: { type: 'acceptTokens', params: ({ context, event }) => ({ tokens: context.receivedTokens!, isRefresh: true, claims: event.output }) },
            },
            onError: refreshFailed(failureOf),
          },
          on: { RESUME: { target: 'verifyingIdToken', reenter: true } },
        },
      },
      on: {
        // A refresh is in flight: calls while it runs do nothing, as in Qt.
        REFRESH: {},
        START_POLLING: { actions: { type: 'reportFailure', params: refusal('Cannot poll while a refresh request is in flight') } },
        // As a failed refresh request: the access token, if any, stays usable.
        FAIL: refreshFailed(failed),
      },
    },

    // revokeTokens(): the refresh token, then the access token, posted to the revocation endpoint (RFC 7009 §2.1).
    revoking: {
      invoke: {
        id: 'revokeTokens',
        src: 'revokeTokens',
        input: requestInput('revocationUrl', (context) => ({ tokens: tokensToRevoke(context) })),
        onDone: { target: 'idle', actions: revocationOutcome(null) },
        onError: { target: 'idle', actions: revocationOutcome(failureOf) },
      },
      on: {
        GRANT: { actions: { type: 'reportFailure', params: refusal('Cannot start a new authorization while tokens are being revoked: await revokeTokens() first') } },
        REFRESH: { actions: { type: 'reportFailure', params: refusal('Cannot refresh while the tokens are being revoked') } },
        START_POLLING: { actions: { type: 'reportFailure', params: refusal('Cannot poll while tokens are being revoked') } },
        // Already under way: its outcome answers this call too.
        REVOKE: {},
        // The tokens are on their way out: none are taken or cleared meanwhile.
        ADOPT_TOKENS: {},
        FORGET_TOKENS: {},
        RESUME: { target: 'revoking', reenter: true },
        FAIL: { target: 'idle', actions: revocationOutcome(failed) },
      },
    },

    failed: {
      initial: 'authorization',
      states: {
        authorization: {},
        polling: {},
        refresh: {},
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
