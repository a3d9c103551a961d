/**
 * Finds a server's device authorization and token endpoints from its issuer identifier.
 *
 * @module
 */

import { DeviceFlowError, isDeviceFlowError } from '../core/errors.js';
import { type FetchFunction, sendRequest } from '../http/sendRequest.js';
import { parseResponseBody, type ResponseMembers } from '../core/protocol/responseBody.js';
import { readHttpUrl } from '../core/protocol/urls.js';
import { DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REQUEST_TIMEOUT_MS } from '../http/actors.js';

/** The endpoints the device flow needs. */
export interface DiscoveredEndpoints {
  issuer: string;
  authorizationUrl: string;
  tokenUrl: string;
}

/**
 * Reads the issuer's metadata: OpenID Connect Discovery (`/.well-known/openid-configuration` appended to the issuer),
 * then RFC 8414 (`/.well-known/oauth-authorization-server` inserted before the issuer's path), with the body cap and
 * timeout of every other request. The metadata's `issuer` must be the one asked for.
 *
 * @throws {DeviceFlowError} when no metadata could be read, naming each URL tried and what came of it:
 *   `ClientError` when both answered 404 or 410 (no metadata at that issuer), `NetworkError` when neither answered,
 *   `ServerError` otherwise; `ClientError` too when the metadata lacks the device authorization or token endpoint, or
 *   names another issuer.
 * @see [RFC 8414 §3](https://www.rfc-editor.org/rfc/rfc8414#section-3)
 * @see [OpenID Connect Discovery §4](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig)
 */
export async function discoverEndpoints(issuer: string, options: DiscoveryOptions = {}): Promise<DiscoveredEndpoints> {
  const base = issuer.replace(/\/+$/, '');
  const { origin, pathname } = new URL(base);
  const candidates = [`${base}/.well-known/openid-configuration`, `${origin}/.well-known/oauth-authorization-server${pathname === '/' ? '' : pathname}`];
  const failures: { url: string; reason: string; kind: 'absent' | 'unreachable' | 'unusable' }[] = [];
  for (const url of candidates) {
    try {
      return endpointsFrom(await readMetadata(url, options), base, url);
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (error instanceof MetadataUnavailable) failures.push({ url, reason: error.message, kind: error.kind });
      else if (isDeviceFlowError(error) && error.code !== 'ClientError') {
        failures.push({ url, reason: error.message, kind: error.code === 'NetworkError' ? 'unreachable' : 'unusable' });
      } else throw error;
    }
  }
  const kinds = new Set(failures.map((failure) => failure.kind));
  const code = kinds.size === 1 && kinds.has('absent') ? 'ClientError' : kinds.size === 1 && kinds.has('unreachable') ? 'NetworkError' : 'ServerError';
  throw new DeviceFlowError(code, `Could not read the metadata of ${base}: ${failures.map((failure) => failure.reason).join('; ')}`);
}

/** How discovery talks HTTP: as every request of the flow does, by default. */
export interface DiscoveryOptions {
  fetch?: FetchFunction;
  signal?: AbortSignal;
  /** Milliseconds for each metadata request, body included; 30 000 by default. */
  requestTimeout?: number;
  /** The largest metadata document accepted, in bytes; 1 MiB by default. */
  maxResponseBytes?: number;
}

/** Why one metadata URL gave nothing: `absent` (404, 410), or another status. */
class MetadataUnavailable extends Error {
  constructor(
    message: string,
    readonly kind: 'absent' | 'unusable',
  ) {
    super(message);
  }
}

async function readMetadata(url: string, options: DiscoveryOptions): Promise<ResponseMembers> {
  const response = await sendRequest(
    { method: 'GET', url, headers: new Headers({ accept: 'application/json' }) },
    {
      fetch: options.fetch,
      signal: options.signal,
      timeout: options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS,
      maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
    },
  );
  const contentType = response.headers.get('content-type');
  if (response.status !== 200) {
    const mediaType = (contentType ?? '').split(';', 1)[0]!.trim() || 'no content type';
    throw new MetadataUnavailable(`${url} answered HTTP ${response.status} (${mediaType})`, response.status === 404 || response.status === 410 ? 'absent' : 'unusable');
  }
  try {
    return parseResponseBody(response.body, contentType, response.status);
  } catch (error) {
    throw new MetadataUnavailable(`${url}: ${(error as Error).message}`, 'unusable');
  }
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
