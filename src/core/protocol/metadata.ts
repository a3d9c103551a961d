/**
 * Authorization server metadata: where an issuer publishes it, and what the device flow takes from it.
 *
 * @module
 */

import { DeviceFlowError } from '../errors.js';
import { hasUnsafeCharacters, printable } from '../printable.js';
import { ASYMMETRIC_ALGORITHMS, type SigningAlgorithm } from '../propertyRules.js';
import type { ResponseMembers } from './responseBody.js';
import { isSecureEndpoint, parseHttpUrl, plainHttpProblem } from './urls.js';

/**
 * What the device flow needs from an issuer's metadata, named as the settings of `OAuth2DeviceAuthorizationFlow`, so
 * that it spreads into the options: `new OAuth2DeviceAuthorizationFlow({ ...server, clientIdentifier })`.
 *
 * @see [RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2)
 * @see [OpenID Connect Discovery §3](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderMetadata)
 */
export interface DiscoveredServer {
  /** The issuer identifier: the one asked for, which the metadata's `issuer` equals exactly. */
  issuer: string;
  /** `device_authorization_endpoint` (RFC 8628 §4). */
  authorizationUrl: string;
  /** `token_endpoint`. */
  tokenUrl: string;
  /** `jwks_uri`, the keys that sign ID tokens; `null` when the metadata has none. */
  jwksUrl: string | null;
  /** `revocation_endpoint` (RFC 7009); `null` when the metadata has none. */
  revocationUrl: string | null;
  /**
   * The asymmetric algorithms of `id_token_signing_alg_values_supported`, in the metadata's order; absent when it
   * lists none of them, so that the flow's default (every asymmetric algorithm) applies.
   */
  idTokenSigningAlgorithms?: SigningAlgorithm[];
}

/**
 * `issuer` if it can be an issuer identifier: an `https:` URL (plain `http:` to this machine, or anywhere with
 * `allowInsecureHttp`), without user name, password, query or fragment. Returned unchanged: the metadata must name
 * this very string.
 *
 * @throws {DeviceFlowError} `ClientError` saying what is wrong; it never quotes a value that may hold a password.
 * @see [RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2) (`issuer`)
 */
export function checkIssuer(issuer: unknown, allowInsecureHttp: boolean): string {
  if (typeof issuer !== 'string') throw new DeviceFlowError('ClientError', 'The issuer must be a string, which the metadata names exactly');
  const url = parseHttpUrl(issuer);
  if (typeof url === 'string') throw new DeviceFlowError('ClientError', `The issuer ${url}`);
  // The URL parser drops tabs and line breaks and trims spaces: the metadata would have to name what was not parsed.
  if (/\s/.test(issuer) || hasUnsafeCharacters(issuer)) throw new DeviceFlowError('ClientError', `The issuer ${url.origin}${url.pathname} must hold no spaces or control characters`);
  // A bare `?` or `#` leaves `search` and `hash` empty, yet the metadata would have to name it.
  if (/[?#]/.test(issuer)) throw new DeviceFlowError('ClientError', `The issuer ${url.origin}${url.pathname} must have no query or fragment`);
  if (!isSecureEndpoint(url.href, allowInsecureHttp)) {
    throw new DeviceFlowError('ClientError', `The issuer ${plainHttpProblem(url.href)}. Use https, or set allowInsecureHttp: true to allow plain HTTP`);
  }
  return issuer;
}

/**
 * The two places an issuer's metadata may be, in the order to try them: OpenID Connect Discovery's, the path of the
 * issuer followed by `/.well-known/openid-configuration`; then RFC 8414's, `/.well-known/oauth-authorization-server`
 * inserted between the host and the path. A trailing `/` of the issuer is dropped in both.
 *
 * @see [OpenID Connect Discovery §4](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig)
 * @see [RFC 8414 §3.1](https://www.rfc-editor.org/rfc/rfc8414#section-3.1)
 */
export function metadataUrls(issuer: string): [openidConfiguration: string, authorizationServer: string] {
  const { origin, pathname } = new URL(issuer);
  const path = pathname.replace(/\/+$/, '');
  return [`${origin}${path}/.well-known/openid-configuration`, `${origin}/.well-known/oauth-authorization-server${path}`];
}

/**
 * The settings the device flow takes from `metadata`, read at `source` for `issuer`.
 *
 * @throws {DeviceFlowError} `ServerError` when the metadata names another issuer (it must not be used) or gives an
 *   endpoint that is not an absolute URL; `ClientError` when it has no `device_authorization_endpoint` or no
 *   `token_endpoint` (the server offers no device flow there), or an endpoint is plain `http:` and that is not allowed.
 * @see [RFC 8414 §3.3](https://www.rfc-editor.org/rfc/rfc8414#section-3.3) (the issuer must be identical)
 * @see [OpenID Connect Discovery §4.3](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfigurationValidation)
 * @see [RFC 8628 §4](https://www.rfc-editor.org/rfc/rfc8628#section-4) (`device_authorization_endpoint`)
 */
export function parseServerMetadata(metadata: ResponseMembers, issuer: string, source: string, allowInsecureHttp: boolean): DiscoveredServer {
  if (metadata.issuer !== issuer) {
    throw new DeviceFlowError('ServerError', `The metadata at ${source} names ${describeIssuer(metadata.issuer)}, not ${issuer}: metadata of another issuer must not be used`);
  }
  const endpoint = (member: string) => readEndpoint(metadata, member, issuer, allowInsecureHttp);
  const authorizationUrl = endpoint('device_authorization_endpoint');
  const tokenUrl = endpoint('token_endpoint');
  if (authorizationUrl === null || tokenUrl === null) {
    throw new DeviceFlowError(
      'ClientError',
      `The metadata of ${issuer} has no ${authorizationUrl === null ? 'device_authorization_endpoint' : 'token_endpoint'}: the server does not offer the device flow at this issuer; set authorizationUrl and tokenUrl if it does elsewhere`,
    );
  }
  const algorithms = signingAlgorithms(metadata.id_token_signing_alg_values_supported);
  return {
    issuer,
    authorizationUrl,
    tokenUrl,
    jwksUrl: endpoint('jwks_uri'),
    revocationUrl: endpoint('revocation_endpoint'),
    ...(algorithms.length === 0 ? {} : { idTokenSigningAlgorithms: algorithms }),
  };
}

/** The URL `member` gives, normalised, or `null` when absent; an unusable one is an error, not an absence. */
function readEndpoint(metadata: ResponseMembers, member: string, issuer: string, allowInsecureHttp: boolean): string | null {
  const value = metadata[member];
  if (value === undefined || value === null) return null;
  const url = typeof value === 'string' ? parseHttpUrl(value) : 'must be a URL';
  if (typeof url === 'string') throw new DeviceFlowError('ServerError', `The metadata of ${issuer} has an unusable ${member}: it ${url}`);
  if (!isSecureEndpoint(url.href, allowInsecureHttp)) {
    throw new DeviceFlowError('ClientError', `The ${member} of ${issuer}: ${plainHttpProblem(url.href)}. Use https, or set allowInsecureHttp: true to allow plain HTTP`);
  }
  return url.href;
}

/** The asymmetric algorithms of `value`, once each, in its order; none when it is not a list. */
function signingAlgorithms(value: unknown): SigningAlgorithm[] {
  if (!Array.isArray(value)) return [];
  const asymmetric = value.filter((algorithm): algorithm is SigningAlgorithm => ASYMMETRIC_ALGORITHMS.includes(algorithm as SigningAlgorithm));
  return [...new Set(asymmetric)];
}

// Quoted, short and without controls: the server chose it, and a message may reach a terminal.
function describeIssuer(value: unknown): string {
  if (typeof value !== 'string') return 'no issuer';
  return `the issuer ${JSON.stringify(printable(value.length > 200 ? `${value.slice(0, 200)}…` : value))}`;
}
