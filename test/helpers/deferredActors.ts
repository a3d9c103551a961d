import { fromPromise } from 'xstate';
import type { DeviceAuthorization } from '../../src/core/protocol/deviceAuthorizationResponse.js';
import type { PollOutcome, TokenResponse } from '../../src/core/protocol/tokenResponse.js';
import type { DeviceAuthorizationRequest, DeviceTokenRequest, IdTokenValidationRequest, RefreshTokenRequest, RevocationRequest } from '../../src/machines/types.js';

/** One call of a test-double actor: its input, and the means to settle it. */
export interface PendingCall<I, O> {
  input: I;
  signal: AbortSignal;
  /** When the call started, by the clock given to the actor's factory (`NaN` without one). */
  startedAt: number;
  resolve(output: O): void;
  reject(error: unknown): void;
}

/** A promise actor whose calls wait until the test settles them. */
export function deferredActor<I, O>(now: () => number = () => Number.NaN) {
  const calls: PendingCall<I, O>[] = [];
  const logic = fromPromise<O, I>(
    ({ input, signal }) =>
      new Promise<O>((resolve, reject) => {
        calls.push({ input, signal, startedAt: now(), resolve, reject });
      }),
  );
  return {
    logic,
    calls,
    /** The most recent call; fails the test when there is none. */
    get last(): PendingCall<I, O> {
      const call = calls.at(-1);
      if (call === undefined) throw new Error('the actor was never called');
      return call;
    },
  };
}

/** Deferred doubles for the actors of the device authorization machine. */
export function deferredFlowActors(now?: () => number) {
  const requestDeviceAuthorization = deferredActor<DeviceAuthorizationRequest, DeviceAuthorization>(now);
  const pollToken = deferredActor<DeviceTokenRequest, PollOutcome>(now);
  const refreshTokens = deferredActor<RefreshTokenRequest, TokenResponse>(now);
  const validateIdToken = deferredActor<IdTokenValidationRequest, Record<string, unknown>>(now);
  const revokeTokens = deferredActor<RevocationRequest, void>(now);
  return {
    requestDeviceAuthorization,
    pollToken,
    refreshTokens,
    validateIdToken,
    revokeTokens,
    actors: {
      requestDeviceAuthorization: requestDeviceAuthorization.logic,
      pollToken: pollToken.logic,
      refreshTokens: refreshTokens.logic,
      validateIdToken: validateIdToken.logic,
      revokeTokens: revokeTokens.logic,
    },
  };
}

/** Lets settled promises deliver their results to the actor. */
export const flushPromises = () => new Promise<void>((resolve) => setImmediate(resolve));

export const sampleAuthorization = (overrides: Partial<DeviceAuthorization> = {}): DeviceAuthorization => ({
  deviceCode: 'device-code-1',
  userCode: 'WDJB-MJHT',
  verificationUrl: 'https://example.com/device',
  completeVerificationUrl: 'https://example.com/device?user_code=WDJB-MJHT',
  expiresIn: 1800,
  interval: 5,
  extraTokens: {},
  ...overrides,
});

export const sampleTokens = (overrides: Partial<TokenResponse> = {}): TokenResponse => ({
  accessToken: 'access-token-1',
  tokenType: 'Bearer',
  refreshToken: 'refresh-token-1',
  idToken: '',
  expiresIn: 3600,
  grantedScopeTokens: ['read'],
  extraTokens: {},
  ...overrides,
});
