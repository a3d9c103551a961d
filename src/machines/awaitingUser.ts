/**
 * `awaitingUser`: a user code is out. Two regions run side by side: the code's lifetime, and the poller.
 *
 * ```
 * userCode: valid ─USER_CODE_EXPIRED─▶ expired (polling stopped) | failed.polling (polling)
 * poller:   waiting ⇄ requesting ─▶ granted | failed.polling;  stopped ─START_POLLING─▶ starting ─▶ waiting
 * ```
 *
 * @module
 * @see [RFC 8628 §3.4 and §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.4)
 */

import { raise, stateIn } from 'xstate';
import type { PollOutcome, TokenResponse } from '../core/protocol/tokenResponse.js';
import { pollingProblem } from './preconditions.js';
import { deviceFlowSetup, expiryOrOutageReport, expiryReport, failureOf, refusal, refusalFor, requestInput } from './setup.js';

/** The tokens of a poll that granted them. */
function grantedTokens(outcome: PollOutcome): TokenResponse {
  return (outcome as Extract<PollOutcome, { kind: 'granted' }>).tokens;
}

/** While polling runs, a refresh would be a second request to the token endpoint. */
const refuseRefreshWhilePolling = { actions: { type: 'reportFailure', params: refusal('Cannot refresh while polling is in progress') } } as const;

/** The `START_POLLING` transitions: check the configuration, then let `poller.starting` check the expiry. */
export function startPollingTransitions(target: string) {
  return [
    { guard: 'pollingBlocked', actions: { type: 'reportFailure', params: refusalFor(pollingProblem) } },
    { target, actions: 'markPollingStart' },
  ] as const;
}

const userCode = deviceFlowSetup.createStateConfig({
  initial: 'valid',
  states: {
    valid: {
      after: { untilUserCodeExpiry: { actions: raise({ type: 'USER_CODE_EXPIRED' }) } },
      on: {
        USER_CODE_EXPIRED: [
          // With polling stopped nothing is reported at expiry, as in Qt: startTokenPolling() reports it.
          { guard: stateIn('#deviceAuthorization.awaitingUser.poller.stopped'), target: 'expired' },
          { target: '#deviceAuthorization.failed.polling', actions: [{ type: 'reportFailure', params: expiryOrOutageReport }, 'stopPolling'] },
        ],
        RESUME: { target: 'valid', reenter: true, actions: 'settlePastExpiry' },
      },
    },
    expired: {},
  },
});

const poller = deviceFlowSetup.createStateConfig({
  initial: 'waiting',
  states: {
    waiting: {
      after: {
        untilNextPoll: [
          {
            // The application may have cleared or changed the token URL since polling started.
            guard: 'pollingBlocked',
            target: '#deviceAuthorization.failed.polling',
            actions: [{ type: 'reportFailure', params: refusalFor(pollingProblem) }, 'stopPolling'],
          },
          // A poll due at or after the expiry never goes out: the expiry comes first.
          { guard: 'nextPollBeforeExpiry', target: 'requesting' },
        ],
      },
      on: {
        RESUME: { target: 'waiting', reenter: true },
        STOP_POLLING: { target: 'stopped', actions: 'stopPolling' },
        // Already polling: nothing to start (Qt's startTokenPolling() returns true).
        START_POLLING: {},
        REFRESH: refuseRefreshWhilePolling,
      },
    },
    requesting: {
      // The retry after a DPoP nonce challenge is one request: leaving it, the next request may be challenged again.
      exit: 'forgetNonceRetry',
      invoke: {
        id: 'pollToken',
        src: 'pollToken',
        input: requestInput('tokenUrl', (context) => ({
          deviceCode: context.deviceCode,
          requestedScopeTokens: context.properties.requestedScopeTokens,
          notAfter: context.properties.userCodeExpirationAt,
        })),
        onDone: [
          { guard: { type: 'isPending', params: ({ event }) => event.output }, target: 'waiting', actions: 'scheduleNextPoll' },
          {
            guard: { type: 'isSlowDown', params: ({ event }) => event.output },
            target: 'waiting',
            actions: [{ type: 'slowDown', params: ({ event }) => event.output }, 'scheduleNextPoll'],
          },
          {
            guard: { type: 'idTokenToValidate', params: ({ event }) => grantedTokens(event.output) },
            target: '#deviceAuthorization.verifyingIdToken',
            actions: [{ type: 'holdTokens', params: ({ event }) => grantedTokens(event.output) }, 'stopPolling'],
          },
          {
            target: '#deviceAuthorization.granted',
            actions: [{ type: 'acceptTokens', params: ({ event }) => ({ tokens: grantedTokens(event.output), isRefresh: false, claims: null }) }, 'stopPolling'],
          },
        ],
        onError: [
          // At once, with the server's nonce: not a poll of its own, so the interval does not apply (RFC 9449 §8).
          { guard: { type: 'dpopNonceChallenge', params: failureOf }, target: 'requesting', reenter: true, actions: 'markNonceRetry' },
          {
            guard: { type: 'faultToRideOut', params: failureOf },
            target: 'waiting',
            actions: { type: 'backOff', params: failureOf },
          },
          {
            target: '#deviceAuthorization.failed.polling',
            actions: [{ type: 'noteServerExpiry', params: failureOf }, { type: 'reportFailure', params: failureOf }, 'stopPolling'],
          },
        ],
      },
      on: {
        STOP_POLLING: { target: 'stopped', actions: 'stopPolling' },
        // Already polling: nothing to start.
        START_POLLING: {},
        REFRESH: refuseRefreshWhilePolling,
        // Restored without its request (see readFlowSnapshot): send it again, with the settings in force now. Refused,
        // polling stops within awaitingUser: a transition out of it would conflict with the user-code region's own
        // RESUME, and lose to it.
        RESUME: [
          { guard: 'pollingBlocked', target: 'stopped', actions: [{ type: 'reportFailure', params: refusalFor(pollingProblem) }, 'stopPolling'] },
          { target: 'requesting', reenter: true },
        ],
      },
    },
    stopped: {
      on: { START_POLLING: startPollingTransitions('starting') },
    },
    // Polling does not start when its first poll would fall after the expiry, as in Qt.
    starting: {
      always: [
        { guard: 'firstPollBeforeExpiry', target: 'waiting', actions: 'startPolling' },
        {
          target: '#deviceAuthorization.failed.polling',
          actions: [{ type: 'reportFailure', params: () => ({ ...expiryReport(), status: 'TemporaryCredentialsReceived' as const }) }, 'stopPolling'],
        },
      ],
    },
  },
});

/** A user code is out: its lifetime and the poller, side by side. */
export const awaitingUser = deviceFlowSetup.createStateConfig({
  type: 'parallel',
  on: {
    FAIL: {
      target: 'failed.polling',
      actions: [{ type: 'reportFailure', params: ({ event }) => ({ error: event.error }) }, 'stopPolling'],
    },
  },
  states: { userCode, poller },
});
