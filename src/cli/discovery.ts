/**
 * Finds a server's device authorization and token endpoints from its issuer identifier.
 *
 * @module
 */

import { ofetch } from 'ofetch';
import { DeviceFlowError } from '../errors.js';
import type { FetchFunction } from '../http/postForm.js';
import { readHttpUrl } from '../protocol/urls.js';

/** The endpoints the device flow needs. */
export interface DiscoveredEndpoints {
  issuer: string;
  authorizationUrl: string;
  tokenUrl: string;
}

/**
 * Reads the issuer's metadata: OpenID Connect Discovery (`/.well-known/openid-configuration` appended to the issuer),
 * then RFC 8414 (`/.well-known/oauth-authorization-server` inserted before the issuer's path). The metadata's `issuer`
 * must be the one asked for.
 *
 * @throws {DeviceFlowError} `NetworkError` when no metadata could be fetched; `ClientError` when the metadata lacks
 *   the device authorization or token endpoint, or names another issuer.
 * @see [RFC 8414 §3](https://www.rfc-editor.org/rfc/rfc8414#section-3)
 * @see [OpenID Connect Discovery §4](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig)
 */
export async function discoverEndpoints(issuer: string, options: { fetch?: FetchFunction; signal?: AbortSignal } = {}): Promise<DiscoveredEndpoints> {
  const base = issuer.replace(/\/+$/, '');
  const { origin, pathname } = new URL(base);
  const candidates = [`${base}/.well-known/openid-configuration`, `${origin}/.well-known/oauth-authorization-server${pathname === '/' ? '' : pathname}`];
  const $fetch = ofetch.create({}, { fetch: (options.fetch ?? globalThis.fetch) as typeof globalThis.fetch });
  const failures: string[] = [];
  for (const url of candidates) {
    let metadata: Record<string, unknown>;
    try {
      metadata = await $fetch<Record<string, unknown>>(url, { headers: { accept: 'application/json' }, timeout: 10_000, retry: 1, signal: options.signal, parseResponse: JSON.parse });
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      failures.push(`${url}: ${(error as Error).message}`);
      continue;
    }
    return endpointsFrom(metadata, base, url);
  }
  throw new DeviceFlowError('NetworkError', `Could not read the metadata of ${base} (${failures.join('; ')})`);
}

function endpointsFrom(metadata: Record<string, unknown>, issuer: string, source: string): DiscoveredEndpoints {
  if (typeof metadata.issuer !== 'string' || metadata.issuer.replace(/\/+$/, '') !== issuer) {
    throw new DeviceFlowError('ClientError', `The metadata at ${source} names the issuer ${JSON.stringify(metadata.issuer)}, not ${issuer}`);
  }
  const authorizationUrl = readHttpUrl(metadata.device_authorization_endpoint);
  const tokenUrl = readHttpUrl(metadata.token_endpoint);
  if (authorizationUrl === null || tokenUrl === null) {
    throw new DeviceFlowError(
      'ClientError',
      `The metadata of ${issuer} has no ${authorizationUrl === null ? 'device_authorization_endpoint' : 'token_endpoint'}: give --authorization-url and --token-url`,
    );
  }
  return { issuer, authorizationUrl, tokenUrl };
}
