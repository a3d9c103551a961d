/**
 * The Stately inspector's WebSocket relay (`@statelyai/inspect`), bound to 127.0.0.1 only and without opening a
 * browser, fed with sanitised inspection events: how a Node.js process shows its flows in the inspector (the CLI's
 * `--inspect`).
 *
 * @module
 */

import { once } from 'node:events';
import { createServer, type IncomingMessage, Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { InspectionEvent, Observer } from 'xstate';
import { DeviceFlowError, MissingPackageError } from '../core/errors.js';
import { createInspectorSanitizers } from '../core/inspection.js';

/**
 * A running relay, from {@link startInspectorRelay}: the page to open and the `inspect` observer to give the flow.
 *
 * @see [Stately Inspector](https://stately.ai/docs/inspector)
 */
export interface InspectorRelay {
  /** The page to open: it embeds https://stately.ai/inspect and relays this process's events to it. */
  url: string;
  /** The WebSocket address the events go to. */
  socketUrl: string;
  /** Pass to the flow's `inspect` option. */
  inspect: Observer<InspectionEvent>;
  /** Stops the inspector and the relay, after a moment for the last events to leave. */
  stop(): Promise<void>;
}

/**
 * Starts the relay on a free port of 127.0.0.1 and connects an inspector to it; resolves once the relay listens.
 * `@statelyai/inspect` is loaded only now: it is an optional dependency. Every event passes through
 * {@link createInspectorSanitizers} first: no token, device code or secret reaches the relay. The relay accepts
 * WebSockets only from `http:` pages of 127.0.0.1, `localhost` or `[::1]` and from clients that send no `Origin`
 * (browsers always send one); others get `403`: any other site open in the user's browser could otherwise read the
 * flow's progress from it, since browsers apply no CORS to WebSockets.
 *
 * @param choosePort picks the port to try; another process may take it before the relay binds, so up to three are
 *   tried.
 * @throws {DeviceFlowError} `ClientError` when `@statelyai/inspect` is not installed, or no port could be bound.
 * @see [Stately Inspector](https://stately.ai/docs/inspector)
 * @see [RFC 6455 §10.2, Origin Considerations](https://www.rfc-editor.org/rfc/rfc6455#section-10.2)
 * @example
 * ```ts
 * import { startInspectorRelay } from 'oauth2-device-flow/node';
 * const relay = await startInspectorRelay();
 * console.log(`Open ${relay.url}`);
 * const flow = new OAuth2DeviceAuthorizationFlow({ ...options, inspect: relay.inspect });
 * ```
 */
export async function startInspectorRelay(choosePort: () => Promise<number> = freeLoopbackPort): Promise<InspectorRelay> {
  const [inspect, server] = await Promise.all([import('@statelyai/inspect'), import('@statelyai/inspect/server')]).catch(() => {
    throw new MissingPackageError('@statelyai/inspect', 'the inspector relay');
  });
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await choosePort();
    const { result: relay, listening, connections } = onLoopbackOnly(() => server.createInspectorServer({ port, autoOpen: false }));
    try {
      await listening;
    } catch (error) {
      lastError = error;
      relay.stop();
      continue;
    }
    const socketUrl = `ws://127.0.0.1:${port}`;
    const inspector = inspect.createWebSocketInspector({ url: socketUrl, ...createInspectorSanitizers() });
    return {
      url: `http://127.0.0.1:${port}`,
      socketUrl,
      inspect: inspector.inspect,
      async stop() {
        // Inspection events leave on idle callbacks; give the last ones a moment before closing the socket.
        await new Promise((resolve) => setTimeout(resolve, 100));
        inspector.stop();
        relay.stop();
        // The relay's stop leaves open pages connected, and they would keep the process alive.
        for (const connection of connections) connection.destroy();
      },
    };
  }
  throw new DeviceFlowError('ClientError', `The inspector relay could not listen on 127.0.0.1: ${(lastError as Error).message}`, {}, { cause: lastError });
}

/**
 * Runs `start` with the `server.listen(port, callback)` it makes bound to 127.0.0.1 (the relay listens on all
 * interfaces otherwise, and its events carry what the flow does), reports whether that server came up, and keeps its
 * connections so that stopping can close them. The server's other `error` listeners are taken off: the relay's
 * WebSocket server re-emits them with no listener of its own, which would crash the process on a port taken in the
 * meantime. Its `upgrade` listeners (the WebSocket server attaches one when it is created, before `listen`) are put
 * behind {@link refuseForeignOrigins}.
 */
function onLoopbackOnly<T>(start: () => T): { result: T; listening: Promise<void>; connections: Set<Socket> } {
  const listen = Server.prototype.listen;
  const connections = new Set<Socket>();
  let listening: Promise<void> = Promise.reject(new Error('the relay did not start listening'));
  listening.catch(() => undefined);
  Server.prototype.listen = function (this: Server, ...args: unknown[]) {
    const call = listen as (this: Server, ...rest: unknown[]) => Server;
    if (typeof args[0] !== 'number' || typeof args[1] !== 'function') return call.apply(this, args);
    this.removeAllListeners('error');
    refuseForeignOrigins(this);
    this.on('connection', (socket: Socket) => {
      connections.add(socket);
      socket.once('close', () => connections.delete(socket));
    });
    listening = new Promise((resolve, reject) => {
      this.once('listening', () => resolve());
      this.on('error', reject);
    });
    return call.call(this, args[0], '127.0.0.1', args[1]);
  } as Server['listen'];
  try {
    return { result: start(), listening, connections };
  } finally {
    Server.prototype.listen = listen;
  }
}

/**
 * Puts the server's `upgrade` listeners behind an `Origin` check: a WebSocket upgrade from a page that is not on a
 * loopback origin gets `403 Forbidden` and is closed before any listener sees it, so the WebSocket server never
 * accepts it nor replays its buffered events to it.
 */
function refuseForeignOrigins(server: Server): void {
  const upgrades = server.listeners('upgrade') as ((request: IncomingMessage, socket: Duplex, head: Buffer) => void)[];
  server.removeAllListeners('upgrade');
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // RFC 6455 (version 13) browsers send `Origin`; the older version 8 drafts sent `Sec-WebSocket-Origin`.
    const origins = [request.headers.origin ?? [], request.headers['sec-websocket-origin'] ?? []].flat();
    if (origins.every(isAllowedInspectorOrigin)) {
      for (const upgrade of upgrades) upgrade.call(server, request, socket, head);
      return;
    }
    // The HTTP server no longer watches an upgraded socket: without a listener, a reset by the peer would crash.
    socket.on('error', () => undefined);
    socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 49\r\n\r\nThe inspector relay accepts loopback pages only.\n');
    socket.once('finish', () => socket.destroy());
  });
}

/**
 * Whether the relay accepts a WebSocket from a page of `origin` (an `Origin` header's value): the relay's own page,
 * `http://127.0.0.1:PORT`, opens the socket (the https://stately.ai frame it embeds only receives the events by
 * `postMessage`), so `http:` pages of 127.0.0.1, `localhost` and `[::1]`, on any port, are accepted, and nothing else
 * (another site, `null` from a sandboxed or `file:` page, a name that only resolves to 127.0.0.1). Clients that send
 * no `Origin` are not browsers and are not asked.
 *
 * @see [RFC 6455 §10.2, Origin Considerations](https://www.rfc-editor.org/rfc/rfc6455#section-10.2)
 * @see [RFC 6454 §7, the Origin header](https://www.rfc-editor.org/rfc/rfc6454#section-7)
 */
function isAllowedInspectorOrigin(origin: string): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  // An origin is only scheme, host and port: anything more (a path, credentials, upper case) is not a browser's.
  return url.protocol === 'http:' && url.origin === origin && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

/** A port of 127.0.0.1 that was free a moment ago. @internal */
export async function freeLoopbackPort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
