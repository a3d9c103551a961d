/**
 * The requests of the statechart's HTTP actors: build the form, send it, parse the answer, redact the secrets from
 * any error. Loaded by a flow's first request (http/actors.ts), so that an application that only imports the
 * statechart does not load it at start.
 *
 * @module
 */

import { DeviceFlowError, isDeviceFlowError, USER_CODE_EXPIRED } from '../core/errors.js';
import { type DeviceAuthorization, parseDeviceAuthorizationResponse } from '../core/protocol/deviceAuthorizationResponse.js';
import { readDpopNonce } from '../core/protocol/dpop.js';
import { MAX_SERVER_DURATION_SECONDS, readOAuthError } from '../core/protocol/members.js';
import {
  authenticateClient,
  deviceAuthorizationParameters,
  deviceCodeGrantParameters,
  refreshGrantParameters,
  revocationParameters,
  type Stage,
} from '../core/protocol/requests.js';
import { parseResponseBody, type ResponseMembers } from '../core/protocol/responseBody.js';
import { serverReportedError } from '../core/protocol/serverError.js';
import { type PollOutcome, parsePollResponse, parseRefreshResponse, type TokenResponse } from '../core/protocol/tokenResponse.js';
import { redactErrorMembers, redactSecrets } from '../core/redact.js';
import type { ClientRequest, DeviceAuthorizationRequest, DeviceTokenRequest, RefreshTokenRequest, RevocationRequest } from '../machines/types.js';
import type { ModifiableRequest, TransportOptions } from './actors.js';
import type { KeySets } from './idTokenValidation.js';
import { type PostOptions, type RawResponse, sendRequest } from './sendRequest.js';

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
export interface FlowHttpState {
  dpopNonces: Map<string, string>;
  keySets: KeySets | null;
}

/** One request of a flow: the flow's options and shared state, and how to send (limits, the actor's abort signal). */
export interface FlowRequest {
  settings: TransportOptions;
  state: FlowHttpState;
  post: PostOptions & { signal: AbortSignal };
}

async function exchange<T>(
  request: Exchange,
  { settings, state, post }: FlowRequest,
  parse: (members: ResponseMembers, status: number) => T,
  succeeded?: (response: RawResponse) => T | undefined,
): Promise<T> {
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
    const { dpopNonces } = state;
    const origin = new URL(url).origin;
    if (settings.dpop && DPOP_STAGES.has(request.stage)) {
      headers.set('dpop', await settings.dpop.proof({ method: 'POST', url, nonce: dpopNonces.get(origin) ?? null, now: now() }));
    }
    const response = await sendRequest(
      { method: 'POST', url, headers, body: request.parameters },
      post,
    );
    // The latest nonce of a server is the one to use from now on (RFC 9449 §8).
    const nonce = readDpopNonce(response.headers);
    if (nonce !== null) dpopNonces.set(origin, nonce);
    const success = succeeded?.(response);
    if (success !== undefined) return success;
    const members = readMembers(response, now(), request.stage);
    return parse('error' in members ? redactErrorMembers(members, secrets) : members, response.status);
  } catch (error) {
    if (post.signal.aborted) throw error;
    throw redactSecrets(isDeviceFlowError(error) ? error : unexpected(error), secrets);
  }
}

/** @see [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1) */
export function requestDeviceAuthorization(input: DeviceAuthorizationRequest, flow: FlowRequest): Promise<DeviceAuthorization> {
  return exchange({ ...input, stage: 'RequestingAuthorization', parameters: deviceAuthorizationParameters(input), secrets: [] }, flow, parseDeviceAuthorizationResponse);
}

/** @see [RFC 8628 §3.4](https://www.rfc-editor.org/rfc/rfc8628#section-3.4) */
export function pollToken(input: DeviceTokenRequest, flow: FlowRequest): Promise<PollOutcome> {
  return exchange(
    { ...input, stage: 'RequestingAccessToken', parameters: deviceCodeGrantParameters(input), secrets: [input.deviceCode], notAfter: input.notAfter },
    flow,
    (members, status) => parsePollResponse(members, input, status),
  );
}

/** @see [RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6) */
export function refreshTokens(input: RefreshTokenRequest, flow: FlowRequest): Promise<TokenResponse> {
  return exchange(
    { ...input, stage: 'RefreshingAccessToken', parameters: refreshGrantParameters(input), secrets: [input.refreshToken] },
    flow,
    (members, status) => parseRefreshResponse(members, input, status),
  );
}

/**
 * The refresh token first (revoking it may revoke its access tokens too), then the access token; the first refusal
 * ends it.
 *
 * @see [RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1)
 */
export async function revokeTokens(input: RevocationRequest, flow: FlowRequest): Promise<void> {
  const secrets = input.tokens.map(({ token }) => token);
  let refusal: unknown = null;
  for (const { token, hint } of input.tokens) {
    try {
      await exchange(
        { ...input, stage: 'RevokingToken', parameters: revocationParameters({ clientIdentifier: input.clientIdentifier, token, tokenTypeHint: hint }), secrets },
        flow,
        revocationRefused,
        // RFC 7009 §2.2: 200 is success, whatever the body.
        (response) => (response.status === 200 ? true : undefined),
      );
    } catch (error) {
      // A refusal of one token leaves the others worth revoking; a server out of reach would only time out again.
      if (flow.post.signal.aborted || !isDeviceFlowError(error) || error.code === 'NetworkError') throw error;
      refusal ??= error;
    }
  }
  if (refusal !== null) throw refusal;
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

// A modifier threw, or the endpoint URL does not parse: the application's side failed before anything was sent.
function unexpected(error: unknown): DeviceFlowError {
  return new DeviceFlowError('ClientError', `The request could not be prepared: ${error instanceof Error ? error.message : String(error)}`, {}, { cause: error });
}
