/**
 * The checks of an ID token's claims that a JWT library leaves to the client: `azp`, `nonce`, and what a refreshed ID
 * token must keep. (`iss`, `aud`, `exp`, `iat` and the signature are checked as the token is verified.)
 *
 * @module
 */

/**
 * What an ID token must match beyond its signature and the standard JWT claims.
 *
 * @see [OpenID Connect Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation)
 */
export interface IdTokenExpectations {
  clientIdentifier: string;
  /** The nonce sent with the device authorization request; `null` when none was sent. */
  nonce: string | null;
  /** The claims of the ID token a refresh replaces, or `null` at the grant. */
  previousClaims: Readonly<Record<string, unknown>> | null;
}

/**
 * What is wrong with verified `claims` beyond the checks of the JWT itself, in words that follow "The ID token", or
 * `null`. Never quotes a claim's value: the server chose it.
 *
 * @see [OpenID Connect Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation) for `azp` and `nonce`
 * @see [OpenID Connect Core §12.2](https://openid.net/specs/openid-connect-core-1_0.html#RefreshTokenResponse) for a refreshed ID token
 */
export function idTokenClaimsProblem(claims: Readonly<Record<string, unknown>>, { clientIdentifier, nonce, previousClaims }: IdTokenExpectations): string | null {
  const audiences = Array.isArray(claims['aud']) ? claims['aud'] : [claims['aud']];
  // With several audiences the token must say which party it was issued to (OIDC Core §3.1.3.7, rules 4 and 5).
  if (audiences.length > 1 && claims['azp'] === undefined) return 'has several audiences but no azp naming this client';
  if (claims['azp'] !== undefined && claims['azp'] !== clientIdentifier) return "has an azp that is not this client's identifier";
  if (typeof claims['sub'] !== 'string' || claims['sub'] === '') return 'has no sub';
  if (previousClaims === null) {
    // RFC 8628 defines no nonce parameter: servers that take one echo it (then it must match), others, such as
    // oidc-provider, leave it out, and a token that came straight from the token endpoint needs none to be trusted.
    if (nonce !== null && claims['nonce'] !== undefined && claims['nonce'] !== nonce) return 'has a nonce that is not the one sent';
    if (nonce === null && claims['nonce'] !== undefined) return 'has a nonce, but none was sent';
    return null;
  }
  // A refreshed ID token is about the same user, from the same issuer, for the same client (OIDC Core §12.2).
  for (const claim of ['iss', 'sub'] as const) if (claims[claim] !== previousClaims[claim]) return `has another ${claim} than the ID token it replaces`;
  if (!sameAudiences(claims['aud'], previousClaims['aud'])) return 'has other audiences than the ID token it replaces';
  // auth_time is the time of the original sign-in, which a refresh does not repeat; a nonce, if any, is the original.
  for (const claim of ['auth_time', 'nonce'] as const) {
    if (claims[claim] !== undefined && claims[claim] !== previousClaims[claim]) return `has another ${claim} than the ID token it replaces`;
  }
  return null;
}

function sameAudiences(a: unknown, b: unknown): boolean {
  const left = new Set(Array.isArray(a) ? a : [a]);
  const right = new Set(Array.isArray(b) ? b : [b]);
  return left.size === right.size && [...left].every((audience) => right.has(audience));
}
