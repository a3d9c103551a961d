/**
 * The statechart's context, input, events and emitted events.
 *
 * @module
 */

import type { DeviceFlowError, DeviceFlowErrorData } from '../core/errors.js';
import type { FlowProperties, FlowSettings } from '../core/properties.js';
import type { ClientAuthenticationMethod } from '../core/protocol/requests.js';
import type { TokenResponse } from '../core/protocol/tokenResponse.js';

/**
 * The statechart's context: the announced properties in one object (see `PROPERTIES`), and the flow's own bookkeeping
 * beside them.
 *
 * @see [XState context](https://stately.ai/docs/context)
 * @see [RFC 8628 §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5) for the polling interval and back-off
 */
export interface DeviceFlowContext {
  /** Every value the flow announces, by its property name. */
  properties: FlowProperties;
  /** The device code of the user code that is out; empty when none. A secret. */
  deviceCode: string;
  /** The current polling interval in seconds, raised by `slow_down`. */
  pollInterval: number;
  /** The last `expires_in` of a token response, in seconds; Qt's refresh lead-time rule uses it. */
  tokenLifetime: number | null;
  /** When `accessTokenAboutToExpire` fires (epoch ms); `null` when it will not. */
  refreshAt: number | null;
  /** When the refresh timer fires next (epoch ms): `refreshAt`, or earlier when that is further than a timer can wait. */
  refreshCheckpoint: number | null;
  /** When `startTokenPolling()` last resumed polling (epoch ms). */
  pollingStartedAt: number | null;
  /** Transport faults since the last well-formed answer. */
  consecutiveFailures: number;
  /** The last of them. */
  lastFault: DeviceFlowErrorData | null;
  /** The last failure reported with `requestFailed`; the reason the flow is in `failed`. */
  lastError: DeviceFlowErrorData | null;
  /** Tokens received whose ID token is being validated; they become the properties once it is valid. Secrets. */
  receivedTokens: TokenResponse | null;
  /** The request in flight is the one retry after a DPoP nonce challenge (RFC 9449 §8). */
  nonceRetried: boolean;
}

/**
 * Input of `createActor(machine, { input })`: any settings, the rest defaulted.
 *
 * @see [XState input](https://stately.ai/docs/input)
 */
export type DeviceFlowInput = Partial<FlowSettings>;

/**
 * Events the application sends: one for each of the class's methods and for its property setters, and `RESUME`
 * after restoring a snapshot.
 *
 * @see [RFC 8628 §3.4 and §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.4): what `GRANT` and polling send and receive
 * @see [XState events and transitions](https://stately.ai/docs/transitions)
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 */
export type DeviceFlowEvent =
  /** Start a new authorization, abandoning any flow in progress (`grant()`). */
  | { type: 'GRANT' }
  /** Resume polling with the device code already out (`startTokenPolling()`). */
  | { type: 'START_POLLING' }
  /** Stop polling, aborting a poll in flight, without failing (`stopTokenPolling()`). */
  | { type: 'STOP_POLLING' }
  /** Refresh the access token (`refreshTokens()`). */
  | { type: 'REFRESH' }
  /** Revoke the tokens at the server and forget them (`revokeTokens()`). */
  | { type: 'REVOKE' }
  /**
   * Take tokens obtained elsewhere: another process sharing the token store refreshed them (rotating the refresh
   * token this flow holds), and they are newer than this flow's.
   */
  | { type: 'ADOPT_TOKENS'; tokens: StoredTokens }
  /** Forget the tokens here without telling the server: its refresh token was refused (`invalid_grant`). */
  | { type: 'FORGET_TOKENS' }
  /** Change settings (the class's property setters). */
  | { type: 'UPDATE'; settings: Partial<FlowSettings> }
  /** Re-arm the timers after restoring a persisted snapshot: XState does not restore pending delays. */
  | { type: 'RESUME' }
  /**
   * End what is in progress with `error`, as if its request had failed: sent after an unexpected exception stopped
   * the actor (a provided action or clock that threw), to the actor restored from its last completed step.
   */
  | { type: 'FAIL'; error: DeviceFlowError }
  /**
   * The user code's lifetime is over: raised by the chart when its expiry timer fires, or at `RESUME` when the code
   * expired meanwhile. Not for applications to send.
   */
  | { type: 'USER_CODE_EXPIRED' };

/**
 * The token properties as a flow holds them, to hand to another flow of the same sign-in (`ADOPT_TOKENS`).
 *
 * @see [RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1)
 */
export type StoredTokens = Pick<FlowProperties, 'token' | 'refreshToken' | 'idToken' | 'idTokenClaims' | 'tokenType' | 'expirationAt' | 'grantedScopeTokens'>;

/**
 * A `…Changed` event for each announced property: `{ type: 'userCodeChanged', value: 'WDJB-MJHT' }`. The names are
 * those of Qt's notify signals.
 *
 * @see [XState event emitter](https://stately.ai/docs/event-emitter)
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 */
export type PropertyChangedEvent = {
  [K in keyof FlowProperties]: { type: `${K}Changed`; value: FlowProperties[K] };
}[keyof FlowProperties];

/**
 * Events the machine emits; listen with `actor.on(type, listener)`. The names are Qt's signal names.
 *
 * @see [RFC 8628 §3.3](https://www.rfc-editor.org/rfc/rfc8628#section-3.3): `authorizeWithUserCode` is the user interaction
 * @see [XState event emitter](https://stately.ai/docs/event-emitter)
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 */
export type DeviceFlowEmitted =
  | PropertyChangedEvent
  | { type: 'authorizeWithUserCode'; verificationUrl: string; userCode: string; completeVerificationUrl: string | null }
  | { type: 'granted' }
  | { type: 'requestFailed'; error: DeviceFlowError }
  | { type: 'serverReportedErrorOccurred'; error: string; errorDescription: string; uri: string | null }
  | { type: 'accessTokenAboutToExpire' }
  /** A poll hit a transport fault; the next try comes after `retryIn` ms (RFC 8628 §3.5 back-off). */
  | { type: 'transientError'; error: DeviceFlowError; retryIn: number }
  /** The tokens were forgotten; `error` when the server could not be told (RFC 7009 §2.2). */
  | { type: 'revoked'; error: DeviceFlowError | null };

/**
 * What every request of the flow carries about the client: the endpoint, the `client_id`, and how the client
 * authenticates.
 *
 * @see [RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1)
 * @see [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1)
 */
export interface ClientRequest {
  /** The endpoint to POST to. */
  url: string;
  clientIdentifier: string;
  clientAuthentication: ClientAuthenticationMethod;
}

/**
 * Input of the `requestDeviceAuthorization` actor.
 *
 * @see [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1)
 */
export interface DeviceAuthorizationRequest extends ClientRequest {
  scope: string[];
  /** The nonce to send, or `null` to send none. */
  nonce: string | null;
}

/**
 * Input of the `pollToken` actor.
 *
 * @see [RFC 8628 §3.4](https://www.rfc-editor.org/rfc/rfc8628#section-3.4)
 */
export interface DeviceTokenRequest extends ClientRequest {
  deviceCode: string;
  requestedScopeTokens: string[];
  /** When the user code expires (epoch ms): the poll is not sent at or after it. */
  notAfter: number | null;
}

/**
 * Input of the `refreshTokens` actor.
 *
 * @see [RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)
 */
export interface RefreshTokenRequest extends ClientRequest {
  refreshToken: string;
  requestedScopeTokens: string[];
}

/**
 * Input of the `validateIdToken` actor: the ID token of a token response and what it must match.
 *
 * @see [OpenID Connect Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation)
 * @see [OpenID Connect Core §12.2](https://openid.net/specs/openid-connect-core-1_0.html#RefreshTokenResponse) for `previousClaims`
 */
export interface IdTokenValidationRequest {
  idToken: string;
  /** The issuer identifier the token's `iss` must equal. */
  issuer: string;
  /** Where the issuer's signing keys are. */
  jwksUrl: string;
  /** The `client_id` the token's `aud` (and `azp`) must name. */
  clientIdentifier: string;
  /** The nonce sent with the authorization request, which the token's `nonce` must equal; `null` when none was sent. */
  nonce: string | null;
  /** The JWS algorithms the signature may use. */
  algorithms: readonly string[];
  /** Seconds of clock difference tolerated for `exp` and `iat`. */
  clockTolerance: number;
  /** The validated claims of the ID token a refresh replaces, or `null` at the grant. */
  previousClaims: Readonly<Record<string, unknown>> | null;
  /** The current time in epoch ms, by the flow's clock. */
  now: number;
}

/**
 * Input of the `revokeTokens` actor: the revocation endpoint, the client, and the tokens to revoke, refresh tokens
 * first (revoking one may revoke its access tokens too).
 *
 * @see [RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1)
 */
export interface RevocationRequest extends ClientRequest {
  tokens: { token: string; hint: 'refresh_token' | 'access_token' }[];
}
