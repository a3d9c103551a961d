/**
 * What must hold before the flow sends a request: pure checks of the configuration, each returning the problem in
 * words (for `requestFailed('ClientError')`), or `null`.
 *
 * @module
 */

import { isSecureEndpoint } from '../src/protocol/urls.js';
import type { DeviceFlowContext } from './types.js';

type Endpoints = Pick<DeviceFlowContext, 'authorizationUrl' | 'tokenUrl' | 'allowInsecureHttp'>;

/** Why `grant()` cannot start, or `null`. */
export function grantProblem(context: Endpoints): string | null {
  if (!context.authorizationUrl) return 'No authorization URL set';
  return tokenEndpointProblem(context) ?? insecure('authorization', context.authorizationUrl, context.allowInsecureHttp);
}

/** Why a refresh cannot start, or `null`. */
export function refreshProblem(context: Endpoints & Pick<DeviceFlowContext, 'refreshToken'>): string | null {
  if (context.refreshToken === '') return 'No refresh token set';
  return tokenEndpointProblem(context);
}

/** Why polling cannot start or go on, or `null`. */
export function pollingProblem(context: Endpoints & Pick<DeviceFlowContext, 'deviceCode'>): string | null {
  if (context.deviceCode === '') return 'No device code to poll with: call grant() first';
  return tokenEndpointProblem(context);
}

function tokenEndpointProblem(context: Endpoints): string | null {
  if (!context.tokenUrl) return 'No token URL set';
  return insecure('token', context.tokenUrl, context.allowInsecureHttp);
}

function insecure(endpoint: 'authorization' | 'token', url: string, allowInsecureHttp: boolean): string | null {
  if (isSecureEndpoint(url, allowInsecureHttp)) return null;
  const { origin } = new URL(url);
  return `The ${endpoint} endpoint ${origin} is not https: device codes, tokens and secrets would travel in clear text. Use https, or set allowInsecureHttp: true to allow plain HTTP`;
}
