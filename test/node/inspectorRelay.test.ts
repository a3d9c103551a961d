/**
 * The inspector relay refuses cross-site WebSockets: a page of another site, open in the user's browser, must not
 * read the flow's events from ws://127.0.0.1 (browsers apply no CORS to WebSockets; they only send `Origin`). The relay
 * page itself, loopback pages and non-browser clients (no `Origin`) keep receiving them.
 */
import { createActor, createMachine } from 'xstate';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InspectorRelay, startInspectorRelay } from '../../src/node/inspectorRelay.js';

type Outcome = { opened: true; messages: string[] } | { opened: false; status: number; messages: string[] };

/** Connects to `url` as a page of `origin` would (no `Origin` header when undefined), and reports what came back. */
function connect(url: string, origin?: string, headers: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, origin === undefined ? { headers } : { origin, headers });
    const messages: string[] = [];
    socket.on('message', (data) => messages.push(data.toString()));
    socket.once('unexpected-response', (_request, response) => {
      response.resume();
      // Any event the relay might still push would arrive within this moment.
      setTimeout(() => (socket.terminate(), resolve({ opened: false, status: response.statusCode ?? 0, messages })), 200);
    });
    socket.once('open', () => {
      // The relay replays its buffered events on connection: wait for the first, then a moment for the rest.
      const waitForEvents = setInterval(() => {
        if (messages.length === 0) return;
        clearInterval(waitForEvents);
        setTimeout(() => (socket.close(), resolve({ opened: true, messages })), 100);
      }, 20);
      setTimeout(() => (clearInterval(waitForEvents), socket.close(), resolve({ opened: true, messages })), 5_000);
    });
    socket.once('error', reject);
  });
}

describe('the inspector relay and the origin of WebSocket clients', () => {
  let relay: InspectorRelay;
  let port: string;

  beforeAll(async () => {
    relay = await startInspectorRelay();
    port = new URL(relay.url).port;
    // A flow of its own: the relay buffers its events and replays them to every client it accepts.
    const machine = createMachine({ id: 'light', initial: 'green', states: { green: { on: { NEXT: 'yellow' } }, yellow: {} } });
    createActor(machine, { inspect: relay.inspect }).start().send({ type: 'NEXT' });
    const first = await connect(relay.socketUrl);
    expect(first).toMatchObject({ opened: true });
    expect(first.messages.join('\n')).toMatch(/"yellow"/);
  });

  afterAll(() => relay?.stop());

  it('refuses a page of another site with 403 before the handshake, and sends it no event', async () => {
    const outcome = await connect(relay.socketUrl, 'https://evil.example');
    expect(outcome).toEqual({ opened: false, status: 403, messages: [] });
  });

  it('refuses look-alikes, DNS rebinding, opaque origins and the stately.ai frame, which never opens the socket', async () => {
    for (const origin of [
      'null',
      `http://evil.example:${port}`,
      'http://127.0.0.1.evil.example',
      `http://localhost.evil.example:${port}`,
      'http://127.0.0.2',
      'https://stately.ai',
    ]) {
      expect(await connect(relay.socketUrl, origin), origin).toEqual({ opened: false, status: 403, messages: [] });
    }
    // The version 8 drafts' header, which the relay's WebSocket server still reads as the origin.
    const legacy = await connect(relay.socketUrl, undefined, { 'Sec-WebSocket-Origin': 'https://evil.example' });
    expect(legacy).toEqual({ opened: false, status: 403, messages: [] });
  });

  it("accepts the relay's own page as it opens the socket, and other loopback pages", async () => {
    // The page at relay.url opens the socket itself and posts the events to the stately.ai frame it embeds.
    const page = await (await fetch(relay.url)).text();
    const [, pageSocketUrl] = page.match(/new WebSocket\('([^']+)'\)/) ?? [];
    expect(pageSocketUrl).toBe(`ws://localhost:${port}`);
    const own = await connect(pageSocketUrl!, new URL(relay.url).origin);
    expect(own).toMatchObject({ opened: true });
    expect(own.messages.join('\n')).toMatch(/"yellow"/);
    for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`, 'http://127.0.0.1:3000', 'http://[::1]:8080']) {
      const outcome = await connect(relay.socketUrl, origin);
      expect(outcome, origin).toMatchObject({ opened: true });
      expect(outcome.messages.join('\n'), origin).toMatch(/"yellow"/);
    }
  });

  it('accepts a client that sends no Origin (Node, the in-process inspector), and keeps serving after refusals', async () => {
    await connect(relay.socketUrl, 'https://evil.example');
    const outcome = await connect(relay.socketUrl);
    expect(outcome).toMatchObject({ opened: true });
    expect(outcome.messages.join('\n')).toMatch(/"yellow"/);
  });
});
