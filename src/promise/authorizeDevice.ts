/**
 * The device flow as one promise, for scripts and command-line tools.
 *
 * @module
 */

import { DeviceFlowError } from '../core/errors.js';
import { isSignInRequired } from '../core/protocol/serverError.js';
import { type DeviceFlowOptions, OAuth2DeviceAuthorizationFlow } from '../flow/oauth2DeviceAuthorizationFlow.js';
import type { TokenStore } from '../flow/tokenStore.js';

/**
 * What to show the user while the flow waits for them: the members of the device authorization response that the user
 * needs, and when the code expires.
 *
 * @see [RFC 8628 §3.2](https://www.rfc-editor.org/rfc/rfc8628#section-3.2)
 * @see [RFC 8628 §3.3](https://www.rfc-editor.org/rfc/rfc8628#section-3.3)
 * @see [RFC 8628 §3.3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.3.1) for `completeVerificationUrl`
 */
export interface UserCodePrompt {
  /** Where the user goes. */
  verificationUrl: URL;
  /** What the user types there. */
  userCode: string;
  /** The verification URL with the code in it, for a QR code; `null` when the server sent none. */
  completeVerificationUrl: URL | null;
  /** When the code stops working. */
  expiresAt: Date;
  /** Non-standard members of the device authorization response, e.g. Microsoft's `message`. */
  extraTokens: Readonly<Record<string, unknown>>;
}

/**
 * The tokens a successful flow yields: the members of the access token response that ended it.
 *
 * @see [RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1)
 * @see [OpenID Connect Core §3.1.3.3](https://openid.net/specs/openid-connect-core-1_0.html#TokenResponse)
 */
export interface DeviceTokens {
  accessToken: string;
  /** `Bearer`, or `DPoP` when the token is bound to the `dpopKeyPair` given (RFC 9449 §5). */
  tokenType: string;
  /** Empty when the server issued none. */
  refreshToken: string;
  /** Empty unless the `openid` scope was granted. Validated when `issuer` was given (see `idTokenClaims`). */
  idToken: string;
  /** The ID token's claims once validated (an `issuer` was given); `null` otherwise. */
  idTokenClaims: Readonly<Record<string, unknown>> | null;
  /** When the access token expires; `null` when the server did not say. */
  expiresAt: Date | null;
  /** The granted scope tokens. */
  scope: readonly string[];
  /** Non-standard members of the responses. */
  extraTokens: Readonly<Record<string, unknown>>;
}

/**
 * Hooks of {@link authorizeDevice}: where the user code goes, and how the caller cancels the flow.
 *
 * @see [RFC 8628 §3.3](https://www.rfc-editor.org/rfc/rfc8628#section-3.3) for `onUserCode`
 * @see [AbortSignal](https://developer.mozilla.org/en-US/docs/Web/API/AbortSignal) for `signal`
 */
export interface AuthorizeDeviceHooks {
  /** Called with the user code to show; called again if the flow is restarted. An exception aborts the flow. */
  onUserCode?: (prompt: UserCodePrompt) => void;
  /** Cancels the flow at once, during a wait as during a request; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Receives the flow before it starts, to listen to more of its signals (`pollingChanged`, `nextPollAtChanged`…). */
  onFlow?: (flow: OAuth2DeviceAuthorizationFlow) => void;
  /**
   * Where the tokens are kept between runs: when it holds tokens that are still good (or can be refreshed), they are
   * returned without a sign-in; a sign-in still waiting for the user is resumed; the outcome is saved there.
   */
  tokenStore?: TokenStore;
}

/**
 * Runs a whole device authorization: requests a user code, hands it to `onUserCode`, polls until the user decides,
 * and resolves with the tokens.
 *
 * @throws {DeviceFlowError} when the flow fails (`ServerError` for `access_denied`, `ExpiredError`, …); the signal's
 *   reason when aborted.
 * @example
 * ```ts
 * const tokens = await authorizeDevice(
 *   { authorizationUrl, tokenUrl, clientIdentifier: 'my-cli', requestedScopeTokens: ['read'] },
 *   { onUserCode: ({ verificationUrl, userCode }) => console.log(`Open ${verificationUrl} and enter ${userCode}`) },
 * );
 * ```
 * @see [RFC 8628 §3](https://www.rfc-editor.org/rfc/rfc8628#section-3)
 */
export async function authorizeDevice(options: DeviceFlowOptions, hooks: AuthorizeDeviceHooks = {}): Promise<DeviceTokens> {
  const { signal, tokenStore } = hooks;
  if (signal?.aborted) throw signal.reason;
  if (tokenStore === undefined) return signIn(new OAuth2DeviceAuthorizationFlow(options), hooks);
  const flow = await OAuth2DeviceAuthorizationFlow.load({ ...options, tokenStore });
  if (flow.token !== '' || flow.refreshToken !== '') {
    try {
      await abortable(flow.freshAccessToken(), signal);
      const tokens = tokensOf(flow);
      await flow.saved();
      flow.dispose();
      return tokens;
    } catch (error) {
      // Only a refused or missing refresh token calls for a sign-in; anything else is the caller's to see.
      if (!isSignInRequired(error)) {
        flow.dispose();
        throw error;
      }
    }
  }
  return signIn(flow, hooks);
}

/** `promise`, or the signal's reason as soon as it aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return Promise.race([promise, new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))]);
}

/** Runs `flow`'s sign-in to its end: a new one, or the one it resumed that waits for the user. */
function signIn(flow: OAuth2DeviceAuthorizationFlow, hooks: AuthorizeDeviceHooks): Promise<DeviceTokens> {
  const { onUserCode, signal, onFlow } = hooks;
  if (signal?.aborted) {
    flow.dispose();
    return Promise.reject(signal.reason);
  }
  return new Promise<DeviceTokens>((resolve, reject) => {
    let settled = false;
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', abort);
      settle();
      flow.dispose();
    };
    const abort = () => finish(() => reject(signal?.reason));
    signal?.addEventListener('abort', abort, { once: true });

    const showCode = (verificationUrl: URL, userCode: string, completeVerificationUrl: URL | null) => {
      try {
        onUserCode?.({ verificationUrl, userCode, completeVerificationUrl, expiresAt: flow.userCodeExpirationAt!, extraTokens: flow.extraTokens });
      } catch (error) {
        finish(() => reject(error));
      }
    };
    flow.on('authorizeWithUserCode', showCode);
    // Resolved once the tokens are in the store, if there is one.
    flow.on('granted', () => {
      const tokens = tokensOf(flow);
      finish(() => void flow.saved().then(() => resolve(tokens)));
    });
    flow.on('requestFailed', (error: DeviceFlowError) => finish(() => void flow.saved().then(() => reject(error))));
    onFlow?.(flow);
    // A sign-in resumed from the store still waits for the user: show the code it has out, and keep polling.
    if (flow.polling && flow.userCode !== '' && flow.verificationUrl !== null) showCode(flow.verificationUrl, flow.userCode, flow.completeVerificationUrl);
    else flow.grant();
  });
}

function tokensOf(flow: OAuth2DeviceAuthorizationFlow): DeviceTokens {
  return {
    accessToken: flow.token,
    tokenType: flow.tokenType,
    refreshToken: flow.refreshToken,
    idToken: flow.idToken,
    idTokenClaims: flow.idTokenClaims,
    expiresAt: flow.expirationAt,
    scope: flow.grantedScopeTokens,
    extraTokens: flow.extraTokens,
  };
}
