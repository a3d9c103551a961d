/**
 * Token endpoint responses: to a device-code poll and to a refresh.
 *
 * @module
 */

import { DeviceFlowError } from '../errors.js';
import { readPollInterval } from './pollInterval.js';
import { extraMembers, readNonEmptyString, readOAuthError, readPositiveNumber } from './members.js';
import type { ResponseMembers } from './responseBody.js';
import { MAX_SCOPE_TOKENS, splitScope } from './scope.js';
import { serverReportedError } from './serverError.js';

/** The longest token lifetime taken from a server, in seconds (ten years); longer ones are treated as ten years. */
export const MAX_TOKEN_LIFETIME_SECONDS = 315_360_000;

/**
 * A successful access token response, checked and normalised.
 *
 * @see [RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1)
 */
export interface TokenResponse {
  /** The `access_token` member. */
  accessToken: string;
  /**
   * The `token_type` member: `Bearer` and `DPoP` in their registered spelling whatever the case the server used,
   * another type as sent; `Bearer` when the member is absent (some servers omit it, and bearer is what they mean).
   */
  tokenType: string;
  /** The `refresh_token` member; `null` when the response omits it (keep the previous one). */
  refreshToken: string | null;
  /** The `id_token` member; empty when absent. Not validated: check it with an OpenID Connect library. */
  idToken: string;
  /** The `expires_in` member in seconds; `null` when absent or unusable. */
  expiresIn: number | null;
  /** The granted scope: the `scope` member, or the requested scope when the response omits it. */
  grantedScopeTokens: string[];
  /** The non-standard members. */
  extraTokens: Record<string, unknown>;
}

/**
 * The answer to one device-code poll: tokens, or "keep polling".
 *
 * @see [RFC 8628 §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5)
 */
export type PollOutcome =
  | { kind: 'granted'; tokens: TokenResponse }
  | { kind: 'pending' }
  /** `interval` is the `interval` member of the error body (GitHub sends one), or `null`. */
  | { kind: 'slowDown'; interval: number | null };

/**
 * What the parser needs to know about the request a response answers: the requested scope, which a response without
 * a `scope` member grants.
 *
 * @see [RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1)
 * @see [RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)
 */
export interface TokenRequestContext {
  /** The scope tokens the client asked for. */
  requestedScopeTokens: readonly string[];
}

const STANDARD_MEMBERS = new Set(['access_token', 'token_type', 'expires_in', 'refresh_token', 'scope', 'id_token']);

/**
 * Interprets the token endpoint's answer to a device-code poll.
 *
 * @throws {DeviceFlowError} `ExpiredError` for `expired_token`; `ServerError` for any other OAuth error
 *   (`access_denied`, vendor codes) and for a `scope` of more than 1000 tokens; `OAuthTokenNotFoundError` for a success response without `access_token`, or without
 *   `id_token` when the `openid` scope was granted.
 * @see [RFC 8628 §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5)
 */
export function parsePollResponse(members: ResponseMembers, request: TokenRequestContext, status?: number): PollOutcome {
  const oauthError = readOAuthError(members, status);
  if (oauthError === null) return { kind: 'granted', tokens: readTokens(members, request, { requireIdToken: true, status }) };
  if (oauthError.error === 'authorization_pending') return { kind: 'pending' };
  if (oauthError.error === 'slow_down') return { kind: 'slowDown', interval: readPollInterval(members.interval) };
  throw serverReportedError(oauthError, 'token');
}

/**
 * Interprets the token endpoint's answer to a refresh-token grant. An `authorization_pending` or `slow_down` answer is
 * an error here like any other, so a refresh never hangs. OpenID Connect lets a refresh response omit `id_token`.
 *
 * @throws {DeviceFlowError} as {@link parsePollResponse}, without the `id_token` requirement.
 * @see [RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)
 * @see [OpenID Connect Core §12.2](https://openid.net/specs/openid-connect-core-1_0.html#RefreshTokenResponse)
 */
export function parseRefreshResponse(members: ResponseMembers, request: TokenRequestContext, status?: number): TokenResponse {
  const oauthError = readOAuthError(members, status);
  if (oauthError !== null) throw serverReportedError(oauthError, 'token');
  return readTokens(members, request, { requireIdToken: false, status });
}

function readTokens(
  members: ResponseMembers,
  request: TokenRequestContext,
  { requireIdToken, status }: { requireIdToken: boolean; status: number | undefined },
): TokenResponse {
  const accessToken = readNonEmptyString(members.access_token);
  if (accessToken === null) throw tokenNotFound('The token response lacks an access_token', status);
  const scope = typeof members.scope === 'string' ? splitScope(members.scope) : [];
  if (scope.length > MAX_SCOPE_TOKENS) {
    throw new DeviceFlowError('ServerError', `The token response grants more than ${MAX_SCOPE_TOKENS} scope tokens`, { status });
  }
  const grantedScopeTokens = scope.length > 0 ? scope : [...request.requestedScopeTokens];
  const idToken = readNonEmptyString(members.id_token) ?? '';
  if (requireIdToken && idToken === '' && grantedScopeTokens.includes('openid')) {
    throw tokenNotFound('The token response lacks an id_token although the openid scope was granted', status);
  }
  const expiresIn = readPositiveNumber(members.expires_in);
  return {
    accessToken,
    tokenType: readTokenType(members.token_type, status),
    refreshToken: typeof members.refresh_token === 'string' ? members.refresh_token : null,
    idToken,
    expiresIn: expiresIn === null ? null : Math.min(expiresIn, MAX_TOKEN_LIFETIME_SECONDS),
    grantedScopeTokens,
    extraTokens: extraMembers(members, STANDARD_MEMBERS),
  };
}

/**
 * The `token_type` member: registered names in their registered spelling (they compare case-insensitively).
 *
 * @see [RFC 6749 §7.1](https://www.rfc-editor.org/rfc/rfc6749#section-7.1)
 * @see [RFC 9449 §5](https://www.rfc-editor.org/rfc/rfc9449#section-5) for `DPoP`
 */
function readTokenType(value: unknown, status: number | undefined): string {
  if (value === undefined) return 'Bearer';
  if (typeof value !== 'string' || !/^[\w.-]{1,64}$/.test(value)) throw new DeviceFlowError('ServerError', 'The token response has a token_type that is not a token type name', { status });
  const registered = REGISTERED_TOKEN_TYPES.find((name) => name.toLowerCase() === value.toLowerCase());
  return registered ?? value;
}

const REGISTERED_TOKEN_TYPES = ['Bearer', 'DPoP', 'N_A'];

function tokenNotFound(message: string, status: number | undefined): DeviceFlowError {
  return new DeviceFlowError('OAuthTokenNotFoundError', message, { status });
}
