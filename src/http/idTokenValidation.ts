/**
 * Validating an ID token as a client that got it straight from the token endpoint: its signature with the issuer's
 * keys (fetched with the flow's own transport, cached, refetched once for a key it does not know, at most once a
 * minute), its claims, and what the flow expects of it. `jose` does the JOSE, loaded when the first ID token arrives.
 *
 * @module
 */

import { DeviceFlowError, isDeviceFlowError } from '../core/errors.js';
import { idTokenClaimsProblem } from '../core/protocol/idToken.js';
import { parseResponseBody } from '../core/protocol/responseBody.js';
import type { IdTokenValidationRequest } from '../machines/types.js';
import { type PostOptions, sendRequest } from './sendRequest.js';

/**
 * How soon after one refetch for an unknown `kid` the key set may be fetched again for one: key rotation, not a
 * request storm. The first refetch after the initial fetch is not held back: an issuer that rotated its keys a few
 * seconds after the flow first fetched them must not see its users refused for a minute.
 */
export const KEY_SET_REFETCH_INTERVAL_MS = 60_000;

/** A key set as jose's `createLocalJWKSet` made it, with when it was fetched. */
interface CachedKeySet {
  fetchedAt: number;
  keys: ReturnType<typeof import('jose').createLocalJWKSet>;
  /** When it was last fetched again for an unknown `kid` (whether or not that fetch succeeded), or `null`. */
  refetchedAt: number | null;
}

/** What {@link KeySets.get} gives: the key set, and whether it was fetched by this call. */
export interface KeySet {
  keys: CachedKeySet['keys'];
  fetchedAt: number;
  /** Fetched by this call; `false` when it came from the cache. */
  fetched: boolean;
}

/**
 * The key sets of one flow, by URL: each fetched when first needed, and again when a token names a `kid` it lacks:
 * the first time at once, then once a minute at most.
 *
 * @see [RFC 7517 §5](https://www.rfc-editor.org/rfc/rfc7517#section-5)
 * @see [OpenID Connect Core §10.1.1](https://openid.net/specs/openid-connect-core-1_0.html#RotateSigKeys) on key rotation
 */
export class KeySets {
  readonly #sets = new Map<string, CachedKeySet>();

  /**
   * The key set at `url`, fetched now unless cached; `refresh` (a token named a `kid` the cached set lacks) fetches it
   * again, unless it was already fetched again for that reason within the last {@link KEY_SET_REFETCH_INTERVAL_MS}.
   */
  async get(url: string, transport: Omit<PostOptions, 'signal'> & { signal: AbortSignal }, now: number, refresh = false): Promise<KeySet> {
    const cached = this.#sets.get(url);
    if (cached !== undefined) {
      const heldBack = cached.refetchedAt !== null && now - cached.refetchedAt < KEY_SET_REFETCH_INTERVAL_MS && now >= cached.refetchedAt;
      if (!refresh || heldBack) return { keys: cached.keys, fetchedAt: cached.fetchedAt, fetched: false };
      // Counted whatever comes of it: an issuer whose key set fails is not asked again and again either.
      cached.refetchedAt = now;
    }
    const response = await sendRequest({ method: 'GET', url, headers: new Headers({ accept: 'application/jwk-set+json, application/json' }) }, transport).catch((error: unknown) => {
      throw keySetError(error);
    });
    if (response.status !== 200) throw new DeviceFlowError('ServerError', `The issuer's key set answered HTTP ${response.status}`, { status: response.status });
    const document = parseResponseBody(response.body, response.headers.get('content-type'), response.status);
    if (!Array.isArray(document['keys'])) throw new DeviceFlowError('ServerError', "The issuer's key set has no keys array");
    const { createLocalJWKSet } = await import('jose');
    let keys: CachedKeySet['keys'];
    try {
      keys = createLocalJWKSet(document as unknown as Parameters<typeof createLocalJWKSet>[0]);
    } catch {
      throw new DeviceFlowError('ServerError', "The issuer's key set is not a JSON Web Key Set");
    }
    this.#sets.set(url, { fetchedAt: now, keys, refetchedAt: cached?.refetchedAt ?? null });
    return { keys, fetchedAt: now, fetched: true };
  }
}

/**
 * The claims of `request.idToken` once it passed every check of OpenID Connect Core §3.1.3.7 that applies to a token
 * from the token endpoint: signed (not `none`, not HMAC) with an allowed algorithm by a key of the issuer's set; `iss`
 * the issuer; `aud` naming the client, and `azp` when there are several; `exp` ahead and `iat`, `sub` present
 * (`clockTolerance` either way); the nonce sent; and for a refresh, the same issuer, subject and audiences (§12.2).
 *
 * @throws {DeviceFlowError} `ServerError` whose message says which check failed, never the token;
 *   `NetworkError` when the key set could not be fetched; `ClientError` when no `jwksUrl` is set.
 * @see [OpenID Connect Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation)
 * @see [OpenID Connect Core §12.2](https://openid.net/specs/openid-connect-core-1_0.html#RefreshTokenResponse)
 */
export async function validateIdToken(
  request: IdTokenValidationRequest,
  keySets: KeySets,
  transport: Omit<PostOptions, 'signal'> & { signal: AbortSignal },
): Promise<Record<string, unknown>> {
  // grant() asks for a jwksUrl only with the openid scope; a server may send an ID token without it.
  if (request.jwksUrl === '') {
    throw new DeviceFlowError('ClientError', 'An ID token arrived and an issuer is set, so it must be validated, but no jwksUrl is set to check its signature with: set jwksUrl (discover() finds it)');
  }
  const jose = await import('jose');
  const verify = (keys: CachedKeySet['keys']) =>
    jose.jwtVerify(request.idToken, keys, {
      issuer: request.issuer,
      audience: request.clientIdentifier,
      algorithms: [...request.algorithms],
      clockTolerance: request.clockTolerance,
      currentDate: new Date(request.now),
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
    });
  let claims: Record<string, unknown>;
  // How the key set was last come by, for the words of an unknown kid.
  let keySetNote = 'fetched just now';
  try {
    const keySet = await keySets.get(request.jwksUrl, transport, request.now);
    try {
      claims = (await verify(keySet.keys)).payload;
    } catch (error) {
      // A kid the cached set lacks: the issuer may have rotated its keys since it was fetched.
      if (!(error instanceof jose.errors.JWKSNoMatchingKey) || keySet.fetched) throw error;
      const again = await keySets.get(request.jwksUrl, transport, request.now, true);
      keySetNote = again.fetched ? 'even after fetching it again' : 'which was fetched again less than a minute ago, and is not fetched again sooner';
      claims = (await verify(again.keys)).payload;
    }
  } catch (error) {
    if (isDeviceFlowError(error)) throw error;
    throw new DeviceFlowError('ServerError', `The ID token was refused: it ${joseProblem(error, jose.errors, request, keySetNote)}`);
  }
  const problem = idTokenClaimsProblem(claims, request);
  if (problem !== null) throw new DeviceFlowError('ServerError', `The ID token was refused: it ${problem}`);
  return claims;
}

/** What jose found wrong, in words that follow "it", without any value the server chose. */
function joseProblem(error: unknown, errors: typeof import('jose').errors, request: IdTokenValidationRequest, keySetNote: string): string {
  if (error instanceof errors.JWTExpired) return `expired (exp is in the past, beyond ${request.clockTolerance} s of tolerance)`;
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'iss':
        return error.reason === 'missing' ? 'has no iss' : `was issued by another issuer than ${request.issuer}`;
      case 'aud':
        return error.reason === 'missing' ? 'has no aud' : 'is meant for another audience than this client';
      case 'iat':
        return error.reason === 'missing' ? 'has no iat' : 'has an iat in the future';
      case 'nbf':
        return 'is not valid yet (nbf)';
      default:
        return /^\w{1,32}$/.test(error.claim) ? `has a ${error.claim} claim that does not pass (${error.reason})` : 'has a claim that does not pass';
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return `is signed with an algorithm that is not allowed (allowed: ${request.algorithms.join(', ')})`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return "has a signature that does not verify with the issuer's key";
  if (error instanceof errors.JWKSNoMatchingKey) return `names a key that is not in the issuer's key set, ${keySetNote}`;
  if (error instanceof errors.JWKSMultipleMatchingKeys) return "matches several keys of the issuer's key set";
  return 'is not a well-formed signed JWT';
}

function keySetError(error: unknown): DeviceFlowError {
  if (!isDeviceFlowError(error)) return new DeviceFlowError('NetworkError', "The issuer's key set could not be fetched", {}, { cause: error });
  const { code, message, ...fields } = error.toData();
  return new DeviceFlowError(code, `The issuer's key set could not be fetched: ${message}`, fields, { cause: error });
}
