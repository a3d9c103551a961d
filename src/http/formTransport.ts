/**
 * A quicker road for the one request the device flow makes, that a `fetch` function may carry beside its `fetch`
 * behaviour: `createUndiciFetch()` does. `fetch` must build a `Request`, a `Response`, `Headers` and web streams for
 * every poll; a transport hands back the status, the headers and the bytes, which is all the flow reads.
 *
 * @module
 */

/** The headers of a response, as far as the flow reads them. */
export interface ResponseHeaders {
  get(name: string): string | null;
}

/** A form POST (or a GET) for a {@link FormTransport}. */
export interface TransportRequest {
  method: 'GET' | 'POST';
  url: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** The form of a POST. */
  body?: string;
  /** Aborts the request and the body read; the transport then rejects with the signal's reason. */
  signal: AbortSignal;
  /** The largest body to accept; past it the transport stops reading, closes the connection, and rejects. */
  maxResponseBytes: number;
}

/** The whole answer, redirects included (they are not followed). */
export interface TransportResponse {
  status: number;
  headers: ResponseHeaders;
  body: Uint8Array;
}

/**
 * Sends one request. Rejects with the `DeviceFlowError` of {@link import('./readCappedBody.js').bodyTooLarge} for a
 * body over the limit, with the signal's reason when aborted, and with the underlying error otherwise.
 */
export type FormTransport = (request: TransportRequest) => Promise<TransportResponse>;

/** Where a `fetch` function carries its {@link FormTransport}. */
export const FORM_TRANSPORT: unique symbol = Symbol.for('oauth2-device-flow.formTransport');

/** A `fetch` function that may carry a {@link FormTransport}. */
export interface WithFormTransport {
  [FORM_TRANSPORT]?: FormTransport;
}

let platformTransport: FormTransport | undefined;

/**
 * The transport of requests given no `fetch`: none (they take the global `fetch`) unless the package's entry for a
 * platform registers one, as the Node.js entry does (`index.node.ts`: undici, loaded on the first request).
 *
 * @internal
 */
export function defaultFormTransport(): FormTransport | undefined {
  return platformTransport;
}

/**
 * Registers the transport of requests given no `fetch`; `undefined` goes back to the global `fetch`.
 *
 * @internal
 */
export function setDefaultFormTransport(transport: FormTransport | undefined): void {
  platformTransport = transport;
}
