/**
 * Calling a resource server with the flow's access token: `Authorization: Bearer …`, or `DPoP …` with a proof that
 * carries the token's hash; one retry for a DPoP nonce challenge, one refresh (and retry) for an expired token.
 *
 * @module
 */

import { DeviceFlowError } from '../core/errors.js';
import { type DpopSigner, readDpopNonce } from '../core/protocol/dpop.js';
import { hasUserinfo, isSecureEndpoint, parseHttpUrl, plainHttpProblem } from '../core/protocol/urls.js';
import type { FetchFunction } from '../http/sendRequest.js';

/** What {@link authorizedFetch} needs of the flow. */
export interface AuthorizedFetchContext {
  /** The `fetch` to send with; the global one when absent. */
  fetch: FetchFunction | undefined;
  /** The access token and its type, as they are now. */
  token(): { accessToken: string; tokenType: string };
  dpop: DpopSigner | undefined;
  /** The resource servers' DPoP nonces, by origin. */
  nonces: Map<string, string>;
  allowInsecureHttp: boolean;
  now(): number;
  /**
   * Replaces `rejected`, the access token a resource server refused: resolves `true` when the flow then holds another
   * one (refreshed, or found newer in its store). Concurrent calls share one refresh.
   */
  refresh(rejected: string): Promise<boolean>;
}

// Same-origin redirects are followed, each with a proof for its own URL; beyond this many the last one is returned.
const MAX_REDIRECTS = 5;

/**
 * Sends a request to a resource server with the access token: `Authorization: Bearer <token>`, or, for a DPoP-bound
 * token, `Authorization: DPoP <token>` with a `DPoP` proof carrying `ath` (RFC 9449 §7). A `use_dpop_nonce` challenge
 * is answered by one retry with the server's nonce; a `401` with `error="invalid_token"` by one refresh, when a refresh
 * token is at hand, and one retry. Redirects within the origin are followed; a redirect to another origin is returned
 * as it came, unfollowed: the token never goes to an origin other than the one called.
 *
 * @throws {DeviceFlowError} `ClientError` without an access token, for one no header can carry, for a URL that is not
 *   absolute, not `https:` (loopback and `allowInsecureHttp` aside) or carries credentials, all before anything is
 *   sent; what `fetch` throws otherwise.
 * @see [RFC 6750 §2.1](https://www.rfc-editor.org/rfc/rfc6750#section-2.1)
 * @see [RFC 9449 §7](https://www.rfc-editor.org/rfc/rfc9449#section-7)
 */
export async function authorizedFetch(context: AuthorizedFetchContext, input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  // Checked before a Request is made of it: the Request constructor refuses a relative URL or one with userinfo with a
  // TypeError that quotes the URL, password included.
  let url = targetUrl(input instanceof Request ? input.url : input, context.allowInsecureHttp);
  const prepared = input instanceof Request ? new Request(input, init) : new Request(url, init);
  const origin = url.origin;
  // Read once: a retry or a redirect sends the same bytes again, which a stream could not.
  let body: ArrayBuffer | null = prepared.body === null ? null : await prepared.arrayBuffer();
  let method = prepared.method;
  const requestHeaders = new Headers(prepared.headers);
  const { signal, credentials, cache, mode, referrer, referrerPolicy, integrity, keepalive } = { ...init, signal: init.signal ?? (input instanceof Request ? input.signal : undefined) };
  const options = Object.fromEntries(Object.entries({ signal, credentials, cache, mode, referrer, referrerPolicy, integrity, keepalive }).filter(([, value]) => value !== undefined));
  const send = context.fetch ?? ((target: string, requestInit: RequestInit) => fetch(target, requestInit));

  let nonceRetried = false;
  let refreshed = false;
  for (let redirects = 0; ; ) {
    const { accessToken, tokenType } = context.token();
    if (accessToken === '') throw new DeviceFlowError('ClientError', 'No access token: sign in first (grant())');
    const usesDpop = tokenType.toLowerCase() === 'dpop';
    if (usesDpop && context.dpop === undefined) throw new DeviceFlowError('ClientError', 'The access token is DPoP-bound, but the flow has no dpopKeyPair to prove it with');
    // Headers.set() would quote a value it refuses in its TypeError: the token is checked first.
    if (!HEADER_TOKEN.test(accessToken)) throw new DeviceFlowError('ClientError', 'The access token holds characters an Authorization header cannot carry: it was not sent');
    const headers = new Headers(requestHeaders);
    headers.set('authorization', `${usesDpop ? 'DPoP' : 'Bearer'} ${accessToken}`);
    if (usesDpop) headers.set('dpop', await context.dpop!.proof({ method, url: url.href, nonce: context.nonces.get(origin) ?? null, accessToken, now: context.now() }));
    const response = await send(url.href, { ...options, method, headers, body, redirect: 'manual' });
    const nonce = readDpopNonce(response.headers);
    if (nonce !== null) context.nonces.set(origin, nonce);

    const challenge = response.status === 401 ? challengeError(response.headers.get('www-authenticate')) : null;
    if (challenge === 'use_dpop_nonce' && usesDpop && nonce !== null && !nonceRetried) {
      nonceRetried = true;
      await response.body?.cancel();
      continue;
    }
    if (challenge === 'invalid_token' && !refreshed) {
      refreshed = true;
      // Another call may have refreshed meanwhile; otherwise refresh now. Either way, one retry with the new token.
      if (context.token().accessToken !== accessToken || (await context.refresh(accessToken))) {
        await response.body?.cancel();
        continue;
      }
    }
    const location = response.status >= 300 && response.status < 400 ? response.headers.get('location') : null;
    const next = location === null ? null : sameOriginTarget(location, url, origin);
    if (next === null || redirects++ >= MAX_REDIRECTS) return response;
    await response.body?.cancel();
    // As browsers do (the Fetch Standard's HTTP-redirect fetch): 303 other than after a GET or HEAD, and 301/302 after
    // a POST, continue with a GET without body.
    if ((response.status === 303 && method !== 'GET' && method !== 'HEAD') || ((response.status === 301 || response.status === 302) && method === 'POST')) {
      method = 'GET';
      body = null;
      requestHeaders.delete('content-type');
    }
    url = next;
    nonceRetried = false;
  }
}

// Visible ASCII: what an HTTP header can carry after a scheme and a space (RFC 6750's b64token is a subset).
const HEADER_TOKEN = /^[\x21-\x7e]+$/;

/** `value` as the URL a token may go to. */
function targetUrl(value: string | URL, allowInsecureHttp: boolean): URL {
  const url = parseHttpUrl(value);
  if (typeof url === 'string') throw new DeviceFlowError('ClientError', `The URL given to authorizedFetch() ${url}`);
  if (!isSecureEndpoint(url.href, allowInsecureHttp)) throw new DeviceFlowError('ClientError', `authorizedFetch() will not send a token to a URL that ${plainHttpProblem(url.href)}`);
  return url;
}

/** Where a redirect leads, when it stays on `origin` (without userinfo, which fetch refuses); `null` otherwise. */
function sameOriginTarget(location: string, base: URL, origin: string): URL | null {
  try {
    const next = new URL(location, base);
    return next.origin === origin && !hasUserinfo(next) ? next : null;
  } catch {
    return null;
  }
}

/** The `error` a `WWW-Authenticate` challenge names (RFC 6750 §3, RFC 9449 §7.1), or `null`. */
function challengeError(header: string | null): string | null {
  return header === null ? null : (/\berror\s*=\s*"?([\w.-]+)"?/i.exec(header)?.[1] ?? null);
}
