/**
 * What must hold before the flow sends a request: pure checks of the configuration, each returning the problem in
 * words (for `requestFailed('ClientError')`), or `null`.
 *
 * @module
 */

import { isSecureEndpoint, plainHttpProblem } from '../core/protocol/urls.js';
import type { FlowProperties } from '../core/properties.js';
import type { DeviceFlowContext } from './types.js';

type Endpoints = Pick<FlowProperties, 'authorizationUrl' | 'tokenUrl' | 'allowInsecureHttp' | 'issuer' | 'jwksUrl'>;

/** Why `grant()` cannot start, or `null`. */
export function grantProblem({ properties }: { properties: Endpoints }): string | null {
  if (!properties.authorizationUrl) return 'No authorization URL set';
  return tokenEndpointProblem(properties) ?? insecure('authorization', properties.authorizationUrl, properties.allowInsecureHttp) ?? keySetProblem(properties);
}

/** Why a refresh cannot start, or `null`. */
export function refreshProblem({ properties }: { properties: Endpoints & Pick<FlowProperties, 'refreshToken'> }): string | null {
  if (properties.refreshToken === '') return 'No refresh token set';
  return tokenEndpointProblem(properties) ?? keySetProblem(properties);
}

/** Why `revokeTokens()` cannot tell the server, or `null`. */
export function revocationProblem({ properties }: { properties: Pick<FlowProperties, 'revocationUrl' | 'allowInsecureHttp'> }): string | null {
  if (!properties.revocationUrl) return 'No revocation URL set, so the server was not told: the tokens were forgotten here only';
  return insecure('revocation', properties.revocationUrl, properties.allowInsecureHttp);
}

/**
 * An ID token is validated when an issuer is set, and its signature needs the issuer's keys: found out before the
 * user approves, not after. (A server may send an ID token without the `openid` scope being asked for.)
 */
function keySetProblem(properties: Pick<FlowProperties, 'issuer' | 'jwksUrl' | 'allowInsecureHttp'>): string | null {
  if (properties.issuer === null) return null;
  if (!properties.jwksUrl) return 'An issuer is set, so ID tokens are validated, but no jwksUrl to check their signatures with: set jwksUrl (discover() finds it)';
  return insecure('JWKS', properties.jwksUrl, properties.allowInsecureHttp);
}

/** Why polling cannot start or go on, or `null`. */
export function pollingProblem({ properties, deviceCode }: { properties: Endpoints } & Pick<DeviceFlowContext, 'deviceCode'>): string | null {
  if (deviceCode === '') return 'No device code to poll with: call grant() first';
  return tokenEndpointProblem(properties);
}

function tokenEndpointProblem(properties: Endpoints): string | null {
  if (!properties.tokenUrl) return 'No token URL set';
  return insecure('token', properties.tokenUrl, properties.allowInsecureHttp);
}

function insecure(endpoint: 'authorization' | 'token' | 'revocation' | 'JWKS', url: string, allowInsecureHttp: boolean): string | null {
  if (isSecureEndpoint(url, allowInsecureHttp)) return null;
  return `The ${endpoint} endpoint ${plainHttpProblem(url)}. Use https, or set allowInsecureHttp: true to allow plain HTTP`;
}
