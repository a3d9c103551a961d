/**
 * Discovery: an issuer identifier in, the flow's endpoints out.
 *
 * @module
 */

import { DeviceFlowError, isDeviceFlowError } from '../core/errors.js';
import { invalidSetting, requirePositiveNumber } from '../core/optionChecks.js';
import { checkIssuer, type DiscoveredServer, metadataUrls, parseServerMetadata } from '../core/protocol/metadata.js';
import { parseResponseBody, type ResponseMembers } from '../core/protocol/responseBody.js';
import { DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REQUEST_TIMEOUT_MS } from './actors.js';
import { type FetchFunction, sendRequest } from './sendRequest.js';

export type { DiscoveredServer } from '../core/protocol/metadata.js';

/**
 * How {@link discover} talks HTTP: as every request of the flow does, by default.
 *
 * @see [RFC 8414 §3](https://www.rfc-editor.org/rfc/rfc8414#section-3)
 */
export interface DiscoveryOptions {
  /** The `fetch` for the metadata requests (mTLS, proxies); the global `fetch` by default. */
  fetch?: FetchFunction;
  /** Milliseconds for each metadata request, body included; 30 000 by default. */
  requestTimeout?: number;
  /** The largest metadata document accepted, in bytes; 1 MiB by default. */
  maxResponseBytes?: number;
  /** Accept plain `http:` for the issuer and its endpoints beyond this machine; `false` by default. */
  allowInsecureHttp?: boolean;
  /** Stops discovery; its reason is what `discover` then rejects with. */
  signal?: AbortSignal;
}

/**
 * Reads the metadata of `issuer`: first OpenID Connect Discovery's (`/.well-known/openid-configuration` appended to
 * the issuer), then, when that gives no document, RFC 8414's (`/.well-known/oauth-authorization-server` inserted
 * between the host and the path). Each request has the timeout and body cap of every other request of the package.
 * The document found must name exactly `issuer`.
 *
 * @example
 * ```ts
 * const flow = new OAuth2DeviceAuthorizationFlow({ ...(await discover('https://login.example.com')), clientIdentifier: 'my-tv-app' });
 * ```
 * @throws {DeviceFlowError} `ClientError` when `issuer` or an option is unusable, when the document has no
 *   `device_authorization_endpoint` or `token_endpoint`, or a plain-`http:` endpoint that is not allowed, and when
 *   both places answered 404 or 410; `ServerError` when the document names another issuer or is unusable, or when
 *   neither place gave a document for other reasons; `NetworkError` when neither place answered. Without a
 *   document, the message names each URL tried and what came of it. When `options.signal` aborts, its reason.
 * @see [OpenID Connect Discovery §4](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig)
 * @see [RFC 8414 §3](https://www.rfc-editor.org/rfc/rfc8414#section-3)
 */
export async function discover(issuer: string, options: DiscoveryOptions = {}): Promise<DiscoveredServer> {
  const allowInsecureHttp = options.allowInsecureHttp ?? false;
  if (typeof allowInsecureHttp !== 'boolean') throw invalidSetting('allowInsecureHttp', 'must be true or false');
  const expected = checkIssuer(issuer, allowInsecureHttp);
  const transport = {
    fetch: options.fetch,
    signal: options.signal,
    timeout: requirePositiveNumber(options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS, 'requestTimeout'),
    maxResponseBytes: requirePositiveNumber(options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, 'maxResponseBytes'),
  };
  const failures: Failure[] = [];
  for (const url of metadataUrls(expected)) {
    let metadata: ResponseMembers;
    try {
      metadata = await readMetadata(url, transport);
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      failures.push(failureOf(error));
      continue;
    }
    // A document was found: what it says is final, even when it is wrong, since it speaks for the issuer.
    return parseServerMetadata(metadata, expected, url, allowInsecureHttp);
  }
  const kinds = new Set(failures.map((failure) => failure.kind));
  const code = kinds.size > 1 ? 'ServerError' : kinds.has('absent') ? 'ClientError' : kinds.has('unreachable') ? 'NetworkError' : 'ServerError';
  throw new DeviceFlowError(code, `Could not read the metadata of ${expected}: ${failures.map((failure) => failure.message).join('; ')}`);
}

/** Why one place gave no document: it has none (404, 410), nothing answered, or what answered was no document. */
interface Failure {
  message: string;
  kind: 'absent' | 'unreachable' | 'unusable';
}

/** A place answered, with no document. */
class NoMetadata extends Error implements Failure {
  constructor(
    message: string,
    readonly kind: 'absent' | 'unusable',
  ) {
    super(message);
  }
}

/**
 * What came of a request for a document that failed on its way (timeout, body too large, redirect elsewhere): a place
 * without a document, so the other place is tried.
 *
 * @throws {unknown} `error` when it is no such failure (a bug, an unusable request).
 */
function failureOf(error: unknown): Failure {
  if (error instanceof NoMetadata) return error;
  if (isDeviceFlowError(error) && error.code !== 'ClientError') return { message: error.message, kind: error.code === 'NetworkError' ? 'unreachable' : 'unusable' };
  throw error;
}

/** The members of the document at `url`. @throws {NoMetadata} when it answered with no document. */
async function readMetadata(url: string, transport: Parameters<typeof sendRequest>[1]): Promise<ResponseMembers> {
  const response = await sendRequest({ method: 'GET', url, headers: new Headers({ accept: 'application/json' }) }, transport);
  const contentType = response.headers.get('content-type');
  if (response.status !== 200) {
    const mediaType = (contentType ?? '').split(';', 1)[0]!.trim() || 'no content type';
    throw new NoMetadata(`${url} answered HTTP ${response.status} (${mediaType})`, response.status === 404 || response.status === 410 ? 'absent' : 'unusable');
  }
  try {
    return parseResponseBody(response.body, contentType, response.status);
  } catch (error) {
    // A page served for every path (a single-page app's) answers 200 too: the other place may still have the document.
    throw new NoMetadata(`${url}: ${(error as Error).message}`, 'unusable');
  }
}
