/**
 * Type tests of the public API. `npm test` type-checks this file (`tsc --noEmit`): a broken expectation or an
 * unused `@ts-expect-error` fails the run. The runtime test only keeps vitest from reporting an empty file.
 */
import { createActor, fromPromise } from 'xstate';
import { describe, expectTypeOf, it } from 'vitest';
import {
  authorizeDevice,
  createDeviceAuthorizationMachine,
  type DeviceFlowError,
  type DeviceFlowErrorCode,
  type DeviceFlowSignalName,
  type DeviceTokenRequest,
  deviceAuthorizationChart,
  deviceAuthorizationMachine,
  type DeviceTokens,
  type FlowStatus,
  OAuth2DeviceAuthorizationFlow,
  type PollOutcome,
} from '../../src/index.js';
import type { SIGNAL_NAMES } from '../helpers/flowHarness.js';

function typeChecks(flow: OAuth2DeviceAuthorizationFlow) {
  flow.on('authorizeWithUserCode', (verificationUrl, userCode, completeVerificationUrl) => {
    expectTypeOf(verificationUrl).toEqualTypeOf<URL>();
    expectTypeOf(userCode).toEqualTypeOf<string>();
    expectTypeOf(completeVerificationUrl).toEqualTypeOf<URL | null>();
  });
  flow.on('statusChanged', (status) => expectTypeOf(status).toEqualTypeOf<FlowStatus>());
  flow.on('requestFailed', (error) => expectTypeOf(error).toEqualTypeOf<DeviceFlowError>());
  flow.on('serverReportedErrorOccurred', (error, description, uri) => {
    expectTypeOf(error).toEqualTypeOf<string>();
    expectTypeOf(description).toEqualTypeOf<string>();
    expectTypeOf(uri).toEqualTypeOf<URL | null>();
  });
  flow.on('userCodeExpirationAtChanged', (at) => expectTypeOf(at).toEqualTypeOf<Date | null>());
  const unsubscribe = flow.on('granted', () => undefined);
  expectTypeOf(unsubscribe).toEqualTypeOf<() => void>();

  // @ts-expect-error: no such signal
  flow.on('tokensArrived', () => undefined);
  // @ts-expect-error: statusChanged passes a status, not a number
  flow.on('statusChanged', (status: number) => status);

  expectTypeOf(flow.startTokenPolling()).toEqualTypeOf<boolean>();
  expectTypeOf(flow.status).toEqualTypeOf<FlowStatus>();
  expectTypeOf(flow.verificationUrl).toEqualTypeOf<URL | null>();
  expectTypeOf(flow.expirationAt).toEqualTypeOf<Date | null>();
  expectTypeOf(flow.grantedScopeTokens).toEqualTypeOf<readonly string[]>();

  flow.tokenUrl = 'https://as.example/token';
  flow.tokenUrl = new URL('https://as.example/token');
  flow.requestedScopeTokens = new Set(['openid']);
  // @ts-expect-error: read-only
  flow.status = 'Granted';
  // @ts-expect-error: read-only
  flow.userCode = 'ABCD';
  // @ts-expect-error: an unknown nonce mode
  flow.nonceMode = 'Sometimes';
}

function errorCodesNarrow(error: DeviceFlowError): string {
  switch (error.code) {
    case 'NetworkError':
    case 'ServerError':
    case 'OAuthTokenNotFoundError':
    case 'ClientError':
    case 'ExpiredError':
      return error.code;
    default:
      expectTypeOf(error.code).toEqualTypeOf<never>();
      return error.code;
  }
}

function promiseApi() {
  expectTypeOf(authorizeDevice({ clientIdentifier: 'x' })).toEqualTypeOf<Promise<DeviceTokens>>();
  // @ts-expect-error: unknown option
  void authorizeDevice({ clientId: 'x' });
}

function machineApi() {
  const actor = createActor(deviceAuthorizationMachine, { input: { clientIdentifier: 'x', requestedScopeTokens: ['openid'] } });
  actor.send({ type: 'GRANT' });
  actor.send({ type: 'UPDATE', settings: { tokenUrl: 'https://as.example/token' } });
  // @ts-expect-error: not an event of the machine
  actor.send({ type: 'CANCEL' });
  actor.on('requestFailed', (event) => expectTypeOf(event.error).toEqualTypeOf<DeviceFlowError>());
  actor.on('userCodeChanged', (event) => expectTypeOf(event.value).toEqualTypeOf<string>());
  actor.on('authorizeWithUserCode', (event) => expectTypeOf(event.completeVerificationUrl).toEqualTypeOf<string | null>());
  expectTypeOf(actor.getSnapshot().context.properties.status).toEqualTypeOf<FlowStatus>();

  deviceAuthorizationChart.provide({
    actors: { pollToken: fromPromise<PollOutcome, DeviceTokenRequest>(async () => ({ kind: 'pending' })) },
  });
  deviceAuthorizationChart.provide({
    // @ts-expect-error: a poll must resolve with a PollOutcome
    actors: { pollToken: fromPromise<string, DeviceTokenRequest>(async () => 'tokens') },
  });
  createDeviceAuthorizationMachine({ fetch: (input, init) => fetch(input, init), clientSecret: 's' });
}

// Every signal is recorded by the test harness.
expectTypeOf<Exclude<DeviceFlowSignalName, (typeof SIGNAL_NAMES)[number]>>().toEqualTypeOf<never>();
expectTypeOf<DeviceFlowErrorCode>().toEqualTypeOf<'NetworkError' | 'ServerError' | 'OAuthTokenNotFoundError' | 'ClientError' | 'ExpiredError'>();

describe('public API types', () => {
  it('type-check (see tsc)', () => {
    expectTypeOf(typeChecks).toBeFunction();
    expectTypeOf(errorCodesNarrow).toBeFunction();
    expectTypeOf(promiseApi).toBeFunction();
    expectTypeOf(machineApi).toBeFunction();
  });
});
