import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultFormTransport, FORM_TRANSPORT, type FormTransport, setDefaultFormTransport } from '../../src/http/formTransport.js';
import { sendRequest, type FetchFunction } from '../../src/http/sendRequest.js';
import { undiciOnFirstRequest } from '../../src/node/defaultTransport.js';
import { createUndiciFetch } from '../../src/node/undiciFetch.js';
import { rejectionOf } from '../helpers/expectError.js';
import { LoopbackServer } from '../helpers/loopbackServer.js';
import { DEFAULT_TRANSPORTS, givenNoFetchUse } from '../helpers/transports.js';

let server: LoopbackServer;
let bigBodyClosed: Promise<boolean>;
beforeAll(async () => {
  server = await LoopbackServer.start();
  server.handle('/hang', () => 'handled');
  server.handle('/trickle', (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.write('{"a":');
    return 'handled';
  });
  server.handle('/big', { json: { padding: 'x'.repeat(2048) } });
  server.handle('/endless', (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    const chunk = 'x'.repeat(64 * 1024);
    const timer = setInterval(() => response.write(chunk), 1);
    bigBodyClosed = once(response, 'close').then(() => {
      clearInterval(timer);
      return true;
    });
    return 'handled';
  });
  server.handle('/ok', { status: 418, headers: { 'x-test': 'yes' }, json: { ok: true } });
  server.handle('/empty', { status: 204 });
  server.handle('/moved', { status: 307, headers: { location: '/ok' } });
  server.handle('/away', { status: 307, headers: { location: 'http://localhost:9/elsewhere' } });
  server.handle('/with-credentials', (request) => ({ status: 307, headers: { location: `http://user:P4ssw0rd@${request.headers.host}/ok` } }));
});
afterAll(() => server.close());

const undiciFetch = createUndiciFetch();
const transports: [string, FetchFunction | undefined, FormTransport | undefined][] = [
  // No fetch given, from each entry: the global fetch, and the Node.js entry's undici.
  ...DEFAULT_TRANSPORTS.map(([name, transport]): [string, undefined, FormTransport | undefined] => [`no fetch: ${name}`, undefined, transport]),
  // Through its form transport, the road the flow takes.
  ['createUndiciFetch', undiciFetch, undefined],
  // As any other fetch-compatible function: its Response, Headers and streams.
  ['createUndiciFetch called as fetch', (input, init) => undiciFetch(input, init), undefined],
  // Given, it is used as it is, whichever entry registered a default.
  ['the global fetch, given', globalThis.fetch, undiciOnFirstRequest],
];

describe.each(transports)('sendRequest over %s', (_name, fetch, defaultTransport) => {
  givenNoFetchUse(defaultTransport);
  const send = (path: string, options: Partial<Parameters<typeof sendRequest>[1]> = {}) =>
    sendRequest(
      { method: 'POST', url: server.url(path), headers: new Headers({ accept: 'application/json', 'x-trace': 'one' }), body: new URLSearchParams({ a: 'b c', d: '+/=~' }) },
      { fetch, timeout: 5000, maxResponseBytes: 1 << 20, ...options },
    );

  it('resolves with any status, its headers and the whole body, and sends the form and headers as given', async () => {
    const response = await send('/ok');
    expect(response.status).toBe(418);
    expect(response.headers.get('x-test')).toBe('yes');
    expect(new TextDecoder().decode(response.body)).toBe('{"ok":true}');
    const request = server.requestsTo('/ok').at(-1)!;
    expect(request.method).toBe('POST');
    expect(request.body).toBe('a=b+c&d=%2B%2F%3D%7E');
    expect(request.headers).toMatchObject({ 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'x-trace': 'one' });
  });

  it('resolves a body-less status with an empty body', async () => {
    const response = await send('/empty');
    expect(response.status).toBe(204);
    expect(response.body.byteLength).toBe(0);
  });

  it('follows a same-origin 307 itself and refuses one to another origin', async () => {
    expect((await send('/moved')).status).toBe(418);
    expect(server.requestsTo('/moved').length).toBeGreaterThan(0);
    const error = await rejectionOf(send('/away'));
    expect(error).toMatchObject({ code: 'ServerError', status: 307 });
  });

  it('sends nothing to a URL with a user name or password, naming it without them, and follows no redirect to one', async () => {
    const withCredentials = server.url('/ok').replace('http://', 'http://user:P4ssw0rd@');
    const before = server.requestsTo('/ok').length;
    const error = await rejectionOf(sendRequest({ method: 'POST', url: withCredentials, headers: new Headers(), body: new URLSearchParams() }, { fetch, timeout: 5000, maxResponseBytes: 1 << 20 }));
    expect(error).toMatchObject({ code: 'ClientError', message: `The request URL for ${server.url('/ok')} carries a user name or password: refused` });
    const redirected = await rejectionOf(send('/with-credentials'));
    expect(redirected).toMatchObject({ code: 'ServerError', status: 307 });
    for (const failure of [error, redirected]) expect(`${failure.message} ${String(failure.cause ?? '')}`).not.toMatch(/P4ssw0rd|user:/);
    expect(server.requestsTo('/ok').length).toBe(before);
  });

  it('fails with NetworkError when no answer comes in time', async () => {
    const error = await rejectionOf(send('/hang', { timeout: 100 }));
    expect(error.code).toBe('NetworkError');
    expect(error.message).toMatch(/within 0.1 s/);
  });

  it('counts the body in the timeout: a body that never ends fails too', async () => {
    expect((await rejectionOf(send('/trickle', { timeout: 150 }))).code).toBe('NetworkError');
  });

  it('fails with NetworkError when nothing listens', async () => {
    const error = await rejectionOf(sendRequest({ method: 'POST', url: 'http://127.0.0.1:9/token', headers: new Headers(), body: new URLSearchParams() }, { fetch, timeout: 5000, maxResponseBytes: 100 }));
    expect(error.code).toBe('NetworkError');
  });

  it('refuses a body over the size limit with ServerError', async () => {
    const error = await rejectionOf(send('/big', { maxResponseBytes: 1000 }));
    expect(error.code).toBe('ServerError');
    expect(error.message).toMatch(/larger than 1000 bytes/);
    expect(error.status).toBe(200);
  });

  it('closes the connection of a body that does not stop, instead of draining it', async () => {
    const error = await rejectionOf(send('/endless', { maxResponseBytes: 256 * 1024 }));
    expect(error.code).toBe('ServerError');
    expect(await bigBodyClosed).toBe(true);
  });

  it("rejects with the signal's reason when aborted, even before sending", async () => {
    const controller = new AbortController();
    const pending = send('/hang', { signal: controller.signal });
    const reason = new Error('user cancelled');
    setTimeout(() => controller.abort(reason), 20);
    await expect(pending).rejects.toBe(reason);
    await expect(send('/ok', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });
});

describe('createUndiciFetch', () => {
  it('carries a form transport, which sendRequest takes instead of calling it as fetch', async () => {
    const fetch = createUndiciFetch();
    const transport = fetch[FORM_TRANSPORT]!;
    let transported = 0;
    fetch[FORM_TRANSPORT] = (request) => (transported++, transport(request));
    const response = await sendRequest({ method: 'POST', url: server.url('/ok'), headers: new Headers(), body: new URLSearchParams({ a: 'b' }) }, { fetch, timeout: 5000, maxResponseBytes: 1000 });
    expect(transported).toBe(1);
    expect(response.status).toBe(418);
    expect(response.headers.get('X-Test')).toBe('yes');
  });

  it('keeps connections alive across requests', async () => {
    const fetch = createUndiciFetch();
    const ports = new Set<string>();
    server.handle('/peer', (_request, response) => ({ body: String(response.socket?.remotePort) }));
    for (let index = 0; index < 3; index++) {
      const response = await fetch(server.url('/peer'), { method: 'POST', body: 'a=b' });
      ports.add(await response.text());
      // Polls are seconds apart; undici hands the socket back to its pool a tick after the body ends.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(ports.size).toBe(1);
  });

  it('refuses body types it cannot send, rather than sending something else', async () => {
    await expect(createUndiciFetch()(server.url('/ok'), { method: 'POST', body: new Blob(['x']) })).rejects.toThrow(/string, URLSearchParams and byte bodies only/);
  });
});

describe('the Node.js entry', () => {
  afterAll(() => setDefaultFormTransport(undefined));

  it('makes undici the transport of requests given no fetch, and a fetch given is still used as it is', async () => {
    expect(defaultFormTransport()).toBeUndefined();
    const api = await import('../../src/index.node.js');
    expect(defaultFormTransport()).toBe(undiciOnFirstRequest);
    // The main entry's API, unchanged.
    expect(Object.keys(api).sort()).toEqual(Object.keys(await import('../../src/index.js')).sort());

    const before = server.requestsTo('/ok').length;
    await sendRequest({ method: 'POST', url: server.url('/ok'), headers: new Headers(), body: new URLSearchParams({ a: 'b' }) }, { timeout: 5000, maxResponseBytes: 1000 });
    expect(server.requestsTo('/ok').length).toBe(before + 1);
    const called: string[] = [];
    const given: FetchFunction = async (input, init) => (called.push(input), globalThis.fetch(input, init));
    const response = await sendRequest({ method: 'POST', url: server.url('/ok'), headers: new Headers(), body: new URLSearchParams({ a: 'b' }) }, { fetch: given, timeout: 5000, maxResponseBytes: 1000 });
    expect(response.status).toBe(418);
    expect(called).toEqual([server.url('/ok')]);
  });
});
