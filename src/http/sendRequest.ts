/**
 * The one HTTP exchange of the package: POST a form (or GET a metadata document), get the status, headers and
 * (capped) body back, within a timeout, refusing credentials in URLs and redirects to other origins.
 *
 * @module
 */

import { DeviceFlowError, isDeviceFlowError } from '../core/errors.js';
import { defaultFormTransport, FORM_TRANSPORT, type FormTransport, type ResponseHeaders, type WithFormTransport } from './formTransport.js';
import { readCappedBody } from './readCappedBody.js';
import { hasUserinfo } from '../core/protocol/urls.js';

/**
 * A `fetch`-compatible function: the global `fetch`, undici's, or a wrapper adding mTLS, a proxy or test behaviour.
 *
 * @see [The Fetch Standard's fetch()](https://fetch.spec.whatwg.org/#fetch-method)
 */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

/** A request, ready to send: a form POST, or a GET. */
export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Headers;
  /** The form of a POST. */
  body?: URLSearchParams;
}

/** How to send it. */
export interface PostOptions {
  /**
   * The `fetch` to use. When absent: on Node.js (the package's `node` entry), undici through its form transport;
   * elsewhere the global `fetch`.
   */
  fetch?: FetchFunction | undefined;
  /** Aborts the request and the body read. */
  signal?: AbortSignal | undefined;
  /** Milliseconds for the whole exchange, body included, before it fails with `NetworkError`. */
  timeout: number;
  /** Largest body accepted, in bytes. */
  maxResponseBytes: number;
}

/** What came back. */
export interface RawResponse {
  status: number;
  headers: ResponseHeaders;
  body: Uint8Array;
}

/** One answer, before redirects are judged. */
interface Answer extends RawResponse {
  /** A browser's redirect, whose status and target it hides. */
  opaqueRedirect: boolean;
}

/**
 * Sends `request` and reads the whole response. Any HTTP status resolves: OAuth servers put errors in bodies with all
 * kinds of statuses, so the body decides. A `fetch` that carries a {@link FormTransport} (as `createUndiciFetch()`
 * does) is used through it; with no `fetch`, the platform's registered transport is, when there is one.
 *
 * @throws {DeviceFlowError} `NetworkError` when no response arrives or the body cannot be read in time;
 *   `ServerError` when the body is too large. When `options.signal` aborts, its reason is thrown.
 */
export async function sendRequest(request: HttpRequest, options: PostOptions): Promise<RawResponse> {
  const controller = new AbortController();
  let url = request.url;
  const stopFollowing = follow(options.signal, controller);
  const timer = setTimeout(
    () => controller.abort(new DeviceFlowError('NetworkError', `No complete answer from ${describe(request.url)} within ${options.timeout / 1000} s`)),
    options.timeout,
  );
  try {
    if (request.body !== undefined) request.headers.set('content-type', 'application/x-www-form-urlencoded');
    const fetch = options.fetch ?? globalThis.fetch;
    // No `fetch` given: the platform's transport when its entry registered one (undici on Node.js), else the global one.
    const transport = options.fetch === undefined ? defaultFormTransport() : (fetch as WithFormTransport)[FORM_TRANSPORT];
    for (let redirects = 0; ; redirects++) {
      // Checked here, where every URL passes (the settings', a modifier's): fetch would quote it in its error.
      if (hasUserinfo(new URL(url))) throw new DeviceFlowError('ClientError', `The request URL for ${describe(url)} carries a user name or password: refused`);
      const answer = transport
        ? await sendThrough(transport, url, request, options.maxResponseBytes, controller.signal)
        : await sendWithFetch(fetch, url, request, options.maxResponseBytes, controller.signal);
      const next = redirectTarget(answer, url, redirects);
      if (next === null) return answer;
      url = next;
    }
  } catch (error) {
    if (controller.signal.aborted) throw controller.signal.reason;
    if (isDeviceFlowError(error)) throw error;
    throw new DeviceFlowError('NetworkError', `The request to ${describe(url)} failed${reasonOf(error)}`, {}, { cause: rootCause(error) });
  } finally {
    clearTimeout(timer);
    stopFollowing();
  }
}

async function sendThrough(transport: FormTransport, url: string, request: HttpRequest, maxResponseBytes: number, signal: AbortSignal): Promise<Answer> {
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => (headers[name] = value));
  const response = await transport({ method: request.method, url, headers, ...(request.body === undefined ? {} : { body: request.body.toString() }), signal, maxResponseBytes });
  return { ...response, opaqueRedirect: false };
}

async function sendWithFetch(fetch: FetchFunction, url: string, request: HttpRequest, maxResponseBytes: number, signal: AbortSignal): Promise<Answer> {
  const response = await (fetchers.get(fetch) ?? (await fetcherFor(fetch))).raw(url, {
    method: request.method,
    headers: request.headers,
    // URLSearchParams, not a string: ofetch would add `Accept: application/json` to a string body that a request
    // modifier had deliberately removed.
    body: request.body,
    responseType: 'stream',
    ignoreResponseError: true,
    retry: false,
    // Redirects are ours to judge: following one to another origin would hand it the device code or a secret.
    redirect: 'manual',
    signal,
  });
  const { status, headers } = response;
  const opaqueRedirect = response.type === 'opaqueredirect';
  if (opaqueRedirect || (status >= 300 && status <= 399)) {
    await response.body?.cancel();
    return { status, headers, body: new Uint8Array(0), opaqueRedirect };
  }
  return { status, headers, body: await readCappedBody(response.body, maxResponseBytes, status), opaqueRedirect };
}

type Fetcher = ReturnType<typeof import('ofetch').createFetch>;

const fetchers = new WeakMap<FetchFunction, Fetcher>();
let ofetch: Promise<typeof import('ofetch')> | undefined;

/**
 * ofetch over `fetch`, made once per `fetch` function. ofetch is loaded on the first request, not with the package:
 * it takes longer to import than the rest of the package, and a transport (createUndiciFetch) never needs it.
 */
async function fetcherFor(fetch: FetchFunction): Promise<Fetcher> {
  let fetcher = fetchers.get(fetch);
  if (fetcher === undefined) {
    const { createFetch } = await (ofetch ??= import('ofetch'));
    fetchers.set(fetch, (fetcher = createFetch({ fetch: fetch as typeof globalThis.fetch })));
  }
  return fetcher;
}

const MAX_REDIRECTS = 3;

/**
 * Where to send the POST again after `response`, or `null` when it is not a redirect. Only 307 and 308 keep the method
 * and body, and only a target on the same origin is trusted with them.
 *
 * @throws {DeviceFlowError} `ServerError` for any other redirect (in browsers, every redirect: they hide the target).
 */
function redirectTarget(response: Answer, url: string, redirects: number): string | null {
  const { status } = response;
  const opaque = response.opaqueRedirect;
  if (!opaque && (status < 300 || status > 399)) return null;
  const location = response.headers.get('location');
  const target = location === null ? null : new URL(location, url);
  const from = new URL(url);
  if (!opaque && target !== null && target.origin === from.origin && !hasUserinfo(target) && (status === 307 || status === 308) && redirects < MAX_REDIRECTS) {
    return target.href;
  }
  throw new DeviceFlowError(
    'ServerError',
    `${describe(url)} answered with a redirect (HTTP ${status || 'opaque'}${target ? ` to ${target.origin}${target.origin === from.origin ? target.pathname : ''}` : ''}); only ${MAX_REDIRECTS} same-origin 307/308 redirects are followed`,
    status === 0 ? {} : { status },
  );
}

function follow(signal: AbortSignal | undefined, controller: AbortController): () => void {
  if (signal === undefined) return () => undefined;
  const abort = () => controller.abort(signal.reason);
  if (signal.aborted) abort();
  else signal.addEventListener('abort', abort, { once: true });
  return () => signal.removeEventListener('abort', abort);
}

// Origin and path only: a query string may carry credentials.
function describe(url: string): string {
  const { origin, pathname } = new URL(url);
  return `${origin}${pathname}`;
}

// ofetch wraps fetch's TypeError, which wraps the socket error; the innermost one names what happened.
function rootCause(error: unknown): unknown {
  let cause = error;
  while (cause instanceof Error && cause.cause !== undefined && cause.cause !== cause) cause = cause.cause;
  return cause;
}

function reasonOf(error: unknown): string {
  const cause = rootCause(error) as { code?: unknown; message?: unknown } | undefined;
  if (typeof cause?.code === 'string') return ` (${cause.code})`;
  return typeof cause?.message === 'string' && cause.message.length > 0 ? ` (${cause.message})` : '';
}
