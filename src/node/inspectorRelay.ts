/**
 * The Stately inspector's WebSocket relay (`@statelyai/inspect`), bound to 127.0.0.1 only and without opening a
 * browser, fed with sanitised inspection events: how a Node.js process shows its flows in the inspector (the CLI's
 * `--inspect`).
 *
 * @module
 */

import { once } from 'node:events';
import { createServer, Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { InspectionEvent, Observer } from 'xstate';
import { DeviceFlowError } from '../errors.js';
import { createInspectorSanitizers } from '../inspection.js';

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
 * {@link createInspectorSanitizers} first: no token, device code or secret reaches the relay.
 *
 * @param choosePort picks the port to try; another process may take it before the relay binds, so up to three are
 *   tried.
 * @throws {DeviceFlowError} `ClientError` when `@statelyai/inspect` is not installed, or no port could be bound.
 * @see [Stately Inspector](https://stately.ai/docs/inspector)
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
    throw new DeviceFlowError('ClientError', 'The inspector relay needs the optional @statelyai/inspect package: npm install @statelyai/inspect');
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
 * meantime.
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

/** A port of 127.0.0.1 that was free a moment ago. @internal */
export async function freeLoopbackPort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
