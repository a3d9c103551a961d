/**
 * `--inspect`: the Stately inspector's WebSocket relay (`@statelyai/inspect`), bound to 127.0.0.1 only and without
 * opening a browser, fed with sanitised inspection events.
 *
 * @module
 */

import { once } from 'node:events';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InspectionEvent, Observer } from 'xstate';
import { DeviceFlowError } from '../errors.js';
import { createInspectorSanitizers } from '../inspection.js';

/** A running relay. */
export interface InspectorRelay {
  /** The page to open: it embeds https://stately.ai/inspect and relays this process's events to it. */
  url: string;
  /** The WebSocket address the events go to. */
  socketUrl: string;
  /** Pass to the flow's `inspect` option. */
  inspect: Observer<InspectionEvent>;
  stop(): Promise<void>;
}

/**
 * Starts the relay on a free port of 127.0.0.1 and connects an inspector to it. `@statelyai/inspect` is loaded only
 * now: it is an optional dependency.
 *
 * @throws {DeviceFlowError} `ClientError` when `@statelyai/inspect` is not installed.
 */
export async function startInspectorRelay(): Promise<InspectorRelay> {
  const [inspect, server] = await Promise.all([import('@statelyai/inspect'), import('@statelyai/inspect/server')]).catch(() => {
    throw new DeviceFlowError('ClientError', '--inspect needs the @statelyai/inspect package: npm install @statelyai/inspect');
  });
  const port = await freeLoopbackPort();
  const relay = onLoopbackOnly(() => server.createInspectorServer({ port, autoOpen: false }));
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
    },
  };
}

/**
 * Runs `start` with every `server.listen(port, callback)` it makes bound to 127.0.0.1: the relay listens on all
 * interfaces otherwise, and its events carry what the flow does.
 */
function onLoopbackOnly<T>(start: () => T): T {
  const listen = Server.prototype.listen;
  Server.prototype.listen = function (this: Server, ...args: unknown[]) {
    const call = listen as (this: Server, ...rest: unknown[]) => Server;
    if (typeof args[0] === 'number' && typeof args[1] === 'function') return call.call(this, args[0], '127.0.0.1', args[1]);
    return call.apply(this, args);
  } as Server['listen'];
  try {
    return start();
  } finally {
    Server.prototype.listen = listen;
  }
}

async function freeLoopbackPort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
