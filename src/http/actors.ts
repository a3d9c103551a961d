/**
 * The HTTP implementations of the statechart's three actors: build the request, send it, parse the answer.
 *
 * @module
 */

import { type ActorSystem, fromPromise } from 'xstate';

/** The system an actor runs in (XState's `ActorSystem` of any actors). */
type AnyActorSystem = ActorSystem<any>;
import type { ClientRequest, DeviceAuthorizationRequest, DeviceTokenRequest, IdTokenValidationRequest, RefreshTokenRequest, RevocationRequest } from '../machines/types.js';
import { DeviceFlowError, isDeviceFlowError, USER_CODE_EXPIRED } from '../core/errors.js';
import { type FetchFunction, sendRequest, type RawResponse } from './sendRequest.js';
import { type DeviceAuthorization, parseDeviceAuthorizationResponse } from '../core/protocol/deviceAuthorizationResponse.js';
import { type DpopSigner, readDpopNonce } from '../core/protocol/dpop.js';
import {
  authenticateClient,
  deviceAuthorizationParameters,
  deviceCodeGrantParameters,
  refreshGrantParameters,
  revocationParameters,
  type Stage,
} from '../core/protocol/requests.js';
import { serverReportedError } from '../core/protocol/serverError.js';
import { readOAuthError } from '../core/protocol/members.js';
import type { KeySets } from './idTokenValidation.js';
import { MAX_SERVER_DURATION_SECONDS } from '../core/protocol/members.js';
import { parseResponseBody, type ResponseMembers } from '../core/protocol/responseBody.js';
import { type PollOutcome, parsePollResponse, parseRefreshResponse, type TokenResponse } from '../core/protocol/tokenResponse.js';
import { redactErrorMembers, redactSecrets } from '../core/redact.js';

/**
 * A request about to be sent, as the request modifier sees it: change the URL or the headers in place.
 *
 * @see [RFC 6749 §2.3](https://www.rfc-editor.org/rfc/rfc6749#section-2.3): other client authentication, e.g. a signed header
 * @see [Qt's setNetworkRequestModifier](https://doc.qt.io/qt-6/qabstractoauth2.html#setNetworkRequestModifier)
 */
export interface ModifiableRequest {
  url: URL;
  headers: Headers;
}

/**
 * Changes each request before it is sent, like Qt's `setNetworkRequestModifier`: add headers (DPoP, tracing), or
 * route through another URL. May be async.
 *
 * @see [Qt's setNetworkRequestModifier](https://doc.qt.io/qt-6/qabstractoauth2.html#setNetworkRequestModifier)
 */
export type RequestModifier = (request: ModifiableRequest, stage: Stage) => void | Promise<void>;

/**
 * Changes the form parameters of each request, like Qt's `modifyParametersFunction`: add `resource`, a PKCE
 * `code_verifier`, or remove a parameter. Runs after client authentication was added. May be async.
 *
 * @see [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1) and [§3.4](https://www.rfc-editor.org/rfc/rfc8628#section-3.4): the parameters it may change
 * @see [Qt's setModifyParametersFunction](https://doc.qt.io/qt-6/qabstractoauth.html#setModifyParametersFunction)
 */
export type ParameterModifier = (stage: Stage, parameters: URLSearchParams) => void | Promise<void>;

/**
 * How the actors talk HTTP: the `fetch`, the client secret, the modifiers, and the limits on each request.
 *
 * @see [RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1) for `clientSecret`
 * @see [The Fetch Standard's fetch()](https://fetch.spec.whatwg.org/#fetch-method) for `fetch`
 */
export interface TransportOptions {
  /** The `fetch` to use (mTLS, proxies, test doubles); the global `fetch` when absent. */
  fetch?: FetchFunction | undefined;
  /** The client secret; empty or absent for a public client. */
  clientSecret?: string | undefined;
  requestModifier?: RequestModifier | undefined;
  parameterModifier?: ParameterModifier | undefined;
  /** Milliseconds for a whole request, body included; 30 000 by default. */
  requestTimeout?: number | undefined;
  /** The largest response body accepted, in bytes; 1 MiB by default. */
  maxResponseBytes?: number | undefined;
  /** The current time in epoch ms; the wall clock by default. Polls check it against the code's expiry. */
  now?: (() => number) | undefined;
  /**
   * Proves possession of a key on every token-endpoint request (RFC 9449): each poll and refresh carries a fresh
   * proof, with the server's latest nonce.
   */
  dpop?: DpopSigner | undefined;
}

/**
 * Default of {@link TransportOptions.requestTimeout}: 30 s. A poll that times out is a connection timeout, after which
 * polling backs off.
 *
 * @see [RFC 8628 §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5)
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/**
 * Default of {@link TransportOptions.maxResponseBytes}: 1 MiB, far more than any device authorization or token
 * response needs, so that a broken or hostile server cannot make the client buffer without end.
 *
 * @see [RFC 8628 §3.2](https://www.rfc-editor.org/rfc/rfc8628#section-3.2)
 * @see [RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1)
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

interface Exchange extends ClientRequest {
  stage: Stage;
  parameters: URLSearchParams;
  /** Secrets of this request besides the client secret, removed from any error the server's answer causes. */
  secrets: string[];
  /** Epoch ms at and after which the request must not be sent. */
  notAfter?: number | null;
}

/** The token endpoint's requests carry a DPoP proof (RFC 9449 §5); the others are not DPoP's. */
const DPOP_STAGES = new Set<Stage>(['RequestingAccessToken', 'RefreshingAccessToken']);

/** What one flow's requests share: the DPoP nonces servers sent, by origin, and the issuer's key sets (once an ID token is validated). */
interface FlowHttpState {
  dpopNonces: Map<string, string>;
  keySets: KeySets | null;
}

/**
 * Where the actors find their options: fixed ones, or a function called for every request with the actor system the
 * request belongs to (the class uses one machine for all its instances and keeps each instance's options by system).
 *
 * @see [XState actor systems](https://stately.ai/docs/system)
 */
export type TransportOptionsSource = TransportOptions | ((system: ActorSystem<any>) => TransportOptions);

/**
 * The three actors of the device authorization machine, talking HTTP with `options`. Pass a function to have the
 * options read afresh for every request (the class does, so that its setters take effect at once).
 *
 * @see [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1) for `requestDeviceAuthorization`
 * @see [RFC 8628 §3.4](https://www.rfc-editor.org/rfc/rfc8628#section-3.4) for `pollToken`
 * @see [RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6) for `refreshTokens`
 * @see [XState promise actors](https://stately.ai/docs/promise-actors)
 * @example
 * ```ts
 * const machine = deviceAuthorizationChart.provide({ actors: createDeviceFlowActors({ fetch: myFetch }) });
 * ```
 */
export function createDeviceFlowActors(options: TransportOptionsSource = {}) {
  const current = typeof options === 'function' ? options : () => options;
  // By actor system: one per flow's actor, so flows that share this machine share none of it.
  const flows = new WeakMap<AnyActorSystem, FlowHttpState>();
  const stateOf = (system: AnyActorSystem) => {
    let state = flows.get(system);
    if (state === undefined) flows.set(system, (state = { dpopNonces: new Map(), keySets: null }));
    return state;
  };

  async function exchange<T>(
    request: Exchange,
    { signal, system }: { signal: AbortSignal; system: AnyActorSystem },
    parse: (members: ResponseMembers, status: number) => T,
    succeeded?: (response: RawResponse) => T | undefined,
  ): Promise<T> {
    const settings = current(system);
    const clientSecret = settings.clientSecret ?? '';
    const headers = new Headers({ accept: 'application/json' });
    authenticateClient(request.clientAuthentication, { clientIdentifier: request.clientIdentifier, clientSecret }, request.parameters, headers);
    // The Basic credentials too: a server may echo the Authorization header.
    const basicCredentials = headers.get('authorization')?.replace(/^Basic /, '') ?? '';
    const secrets = [clientSecret, basicCredentials, ...request.secrets].filter((secret) => secret.length > 0);
    const now = settings.now ?? Date.now;
    // A snapshot restored after the expiry re-runs the poll that was in flight: it must not go out.
    if (request.notAfter != null && now() >= request.notAfter) {
      throw new DeviceFlowError('ExpiredError', USER_CODE_EXPIRED);
    }
    try {
      if (settings.parameterModifier) await settings.parameterModifier(request.stage, request.parameters);
      let url = request.url;
      if (settings.requestModifier) {
        const modifiable: ModifiableRequest = { url: new URL(url), headers };
        await settings.requestModifier(modifiable, request.stage);
        url = modifiable.url.href;
      }
      // After the modifier: the proof names the URL the request goes to.
      const { dpopNonces } = stateOf(system);
      const origin = new URL(url).origin;
      if (settings.dpop && DPOP_STAGES.has(request.stage)) {
        headers.set('dpop', await settings.dpop.proof({ method: 'POST', url, nonce: dpopNonces.get(origin) ?? null, now: now() }));
      }
      const response = await sendRequest(
        { method: 'POST', url, headers, body: request.parameters },
        {
          fetch: settings.fetch,
          signal,
          timeout: settings.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS,
          maxResponseBytes: settings.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
        },
      );
      // The latest nonce of a server is the one to use from now on (RFC 9449 §8).
      const nonce = readDpopNonce(response.headers);
      if (nonce !== null) dpopNonces.set(origin, nonce);
      const success = succeeded?.(response);
      if (success !== undefined) return success;
      const members = readMembers(response, now(), request.stage);
      return parse('error' in members ? redactErrorMembers(members, secrets) : members, response.status);
    } catch (error) {
      if (signal.aborted) throw error;
      throw redactSecrets(isDeviceFlowError(error) ? error : unexpected(error), secrets);
    }
  }

  return {
    /** @see [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1) */
    requestDeviceAuthorization: fromPromise<DeviceAuthorization, DeviceAuthorizationRequest>(({ input, signal, system }) =>
      exchange(
        { ...input, stage: 'RequestingAuthorization', parameters: deviceAuthorizationParameters(input), secrets: [] },
        { signal, system },
        parseDeviceAuthorizationResponse,
      ),
    ),
    /** @see [RFC 8628 §3.4](https://www.rfc-editor.org/rfc/rfc8628#section-3.4) */
    pollToken: fromPromise<PollOutcome, DeviceTokenRequest>(({ input, signal, system }) =>
      exchange(
        { ...input, stage: 'RequestingAccessToken', parameters: deviceCodeGrantParameters(input), secrets: [input.deviceCode], notAfter: input.notAfter },
        { signal, system },
        (members, status) => parsePollResponse(members, input, status),
      ),
    ),
    /** @see [RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6) */
    refreshTokens: fromPromise<TokenResponse, RefreshTokenRequest>(({ input, signal, system }) =>
      exchange(
        { ...input, stage: 'RefreshingAccessToken', parameters: refreshGrantParameters(input), secrets: [input.refreshToken] },
        { signal, system },
        (members, status) => parseRefreshResponse(members, input, status),
      ),
    ),
    /** @see [OpenID Connect Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation) */
    validateIdToken: fromPromise<Record<string, unknown>, IdTokenValidationRequest>(async ({ input, signal, system }) => {
      const settings = current(system);
      // Loaded by the first ID token to validate: flows without an issuer do not carry it (nor jose, which it loads).
      const { KeySets, validateIdToken } = await import('./idTokenValidation.js');
      const state = stateOf(system);
      return validateIdToken(input, (state.keySets ??= new KeySets()), {
        fetch: settings.fetch,
        signal,
        timeout: settings.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS,
        maxResponseBytes: settings.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      });
    }),
    /**
     * The refresh token first (revoking it may revoke its access tokens too), then the access token; the first refusal
     * ends it.
     *
     * @see [RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1)
     */
    revokeTokens: fromPromise<void, RevocationRequest>(async ({ input, signal, system }) => {
      const secrets = input.tokens.map(({ token }) => token);
      let refusal: unknown = null;
      for (const { token, hint } of input.tokens) {
        try {
          await exchange(
            { ...input, stage: 'RevokingToken', parameters: revocationParameters({ clientIdentifier: input.clientIdentifier, token, tokenTypeHint: hint }), secrets },
            { signal, system },
            revocationRefused,
            // RFC 7009 §2.2: 200 is success, whatever the body.
            (response) => (response.status === 200 ? true : undefined),
          );
        } catch (error) {
          // A refusal of one token leaves the others worth revoking; a server out of reach would only time out again.
          if (signal.aborted || !isDeviceFlowError(error) || error.code === 'NetworkError') throw error;
          refusal ??= error;
        }
      }
      if (refusal !== null) throw refusal;
    }),
  };
}

/**
 * A revocation answer other than 200: the server's OAuth error, or that it answered without one.
 *
 * @see [RFC 7009 §2.2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.2.1)
 */
function revocationRefused(members: ResponseMembers, status: number): never {
  const oauthError = readOAuthError(members, status);
  if (oauthError !== null) throw serverReportedError(oauthError, 'revocation');
  throw new DeviceFlowError('ServerError', `The revocation endpoint answered HTTP ${status} without an OAuth error`, { status });
}

/**
 * The members of `response`'s body. A 429 or 5xx answer without an OAuth error body (a proxy's error page, an
 * overloaded server, a web framework's own error JSON such as `{"error":"Service Unavailable"}`) is a passing
 * condition, and so are `temporarily_unavailable` at any status and `server_error` with a 429 or 5xx (RFC 6749 defines
 * both as passing). While polling, such an answer is a transport fault, reported as `NetworkError` with the status and
 * any `Retry-After`, so that polling backs off and tries again (RFC 8628 §3.5). At the other stages a response that
 * arrived but cannot be used is a `ServerError`, as in Qt (`NetworkError` is kept for no response at all); an OAuth
 * error among them is left to the parser, which reports it as the server's.
 */
function readMembers(response: RawResponse, now: number, stage: Stage): ResponseMembers {
  const { status, headers, body } = response;
  const faultStatus = status === 429 || status >= 500;
  const polling = stage === 'RequestingAccessToken';
  let members: ResponseMembers | null = null;
  try {
    members = parseResponseBody(body, headers.get('content-type'), status);
  } catch (error) {
    if (!faultStatus) throw error;
  }
  if (members !== null && !isFault(members, faultStatus)) return members;
  const error = members?.['error'];
  const oauthError = typeof error === 'string' && OAUTH_ERROR_CODE.test(error) ? { error } : null;
  if (!polling && oauthError !== null) return members!;
  const retryAfter = status === 429 || status === 503 ? retryAfterSeconds(headers.get('retry-after'), now) : null;
  const arrived = `HTTP ${status} (${mediaTypeOf(headers.get('content-type'))}, ${body.byteLength} bytes)`;
  throw new DeviceFlowError(polling ? 'NetworkError' : 'ServerError', `The server answered ${arrived} with ${oauthError?.error ?? 'no OAuth error'}`, {
    status,
    ...oauthError,
    ...(retryAfter === null ? {} : { retryAfter }),
  });
}

function mediaTypeOf(contentType: string | null): string {
  const mediaType = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
  return /^[\w.+-]+\/[\w.+-]+$/.test(mediaType) ? mediaType : 'no content type';
}

// OAuth error codes are snake_case words; "Service Unavailable" or "Internal Server Error" are a framework talking.
const OAUTH_ERROR_CODE = /^[a-z][a-z0-9_]*$/;

/** @see [RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2), [§4.1.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1) */
function isFault(members: ResponseMembers, faultStatus: boolean): boolean {
  const error = members['error'];
  if (error === 'temporarily_unavailable') return true;
  if (!faultStatus) return false;
  return typeof error !== 'string' || !OAUTH_ERROR_CODE.test(error) || error === 'server_error';
}

/**
 * `Retry-After` in seconds: delay-seconds, or an HTTP date counted from `now`, at most a day; `null` when absent or
 * unreadable.
 *
 * @see [RFC 9110 §10.2.3](https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3)
 */
export function retryAfterSeconds(value: string | null, now: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  const date = /^\d+$/.test(text) ? null : Date.parse(text);
  const seconds = date === null ? Number(text) : Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000));
  // No server holds a device flow back longer than a code lives.
  return seconds === null ? null : Math.min(seconds, MAX_SERVER_DURATION_SECONDS);
}

/**
 * The actors {@link createDeviceFlowActors} returns: `requestDeviceAuthorization`, `pollToken` and `refreshTokens`.
 *
 * @see [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1) for `requestDeviceAuthorization`
 * @see [RFC 8628 §3.4](https://www.rfc-editor.org/rfc/rfc8628#section-3.4) for `pollToken`
 * @see [RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6) for `refreshTokens`
 */
export type DeviceFlowActors = ReturnType<typeof createDeviceFlowActors>;

// A modifier threw, or the endpoint URL does not parse: the application's side failed before anything was sent.
function unexpected(error: unknown): DeviceFlowError {
  return new DeviceFlowError('ClientError', `The request could not be prepared: ${error instanceof Error ? error.message : String(error)}`, {}, { cause: error });
}
