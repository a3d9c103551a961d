import { type AnyActorLogic, createActor, toPromise } from 'xstate';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDeviceFlowActors, type TransportOptions } from '../src/http/actors.js';
import { rejectionOf } from './helpers/expectError.js';
import { LoopbackServer } from './helpers/loopbackServer.js';

const deviceAuthorization = {
  device_code: 'dc-secret-1',
  user_code: 'WDJB-MJHT',
  verification_uri: 'https://example.com/device',
  expires_in: 1800,
  interval: 5,
};

let server: LoopbackServer;
beforeAll(async () => {
  server = await LoopbackServer.start();
});
afterAll(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
});

function run<K extends keyof ReturnType<typeof createDeviceFlowActors>>(
  name: K,
  input: Record<string, unknown>,
  options: TransportOptions = {},
) {
  const logic: AnyActorLogic = createDeviceFlowActors(options)[name];
  const actor = createActor(logic, { input: { clientIdentifier: 'tv-app', clientAuthentication: 'client_secret_post', ...input } });
  actor.start();
  return toPromise(actor) as Promise<unknown>;
}

const authorize = (options?: TransportOptions, path = '/device') =>
  run('requestDeviceAuthorization', { url: server.url(path), scope: ['read'], nonce: null }, options);
const poll = (options?: TransportOptions, path = '/token') =>
  run('pollToken', { url: server.url(path), deviceCode: 'dc-secret-1', requestedScopeTokens: ['read'] }, options);
const refresh = (options?: TransportOptions, path = '/token') =>
  run('refreshTokens', { url: server.url(path), refreshToken: 'rt-secret-1', requestedScopeTokens: ['read'] }, options);

describe('HTTP requests', () => {
  it('POSTs a form with Accept: application/json', async () => {
    server.handle('/device', { json: deviceAuthorization });
    await authorize();
    const [request] = server.requestsTo('/device');
    expect(request!.method).toBe('POST');
    expect(request!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request!.headers.accept).toBe('application/json');
    expect(Object.fromEntries(request!.params)).toEqual({ client_id: 'tv-app', scope: 'read' });
  });

  it('reads a form-encoded answer, as GitHub sends one', async () => {
    server.handle('/device-form', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'device_code=dc&user_code=ABCD-EFGH&verification_uri=https%3A%2F%2Fgithub.com%2Flogin%2Fdevice&expires_in=899&interval=5',
    });
    await expect(authorize({}, '/device-form')).resolves.toMatchObject({ userCode: 'ABCD-EFGH', expiresIn: 899, verificationUrl: 'https://github.com/login/device' });
  });

  it('decides by the body, not the status: errors with 200 and 428, success with 400', async () => {
    server.queue('/token', { status: 200, json: { error: 'authorization_pending' } }, { status: 428, json: { error: 'slow_down' } });
    await expect(poll()).resolves.toEqual({ kind: 'pending' });
    await expect(poll()).resolves.toEqual({ kind: 'slowDown', interval: null });
    server.queue('/token', { status: 400, json: { access_token: 'at' } });
    await expect(poll()).resolves.toMatchObject({ kind: 'granted', tokens: { accessToken: 'at' } });
  });

  it('fails with ServerError, keeping the status, when the body is neither JSON nor form', async () => {
    server.queue('/token', { status: 200, headers: { 'content-type': 'text/html' }, body: '<h1>Welcome</h1>' });
    expect(await rejectionOf(poll())).toMatchObject({ code: 'ServerError', status: 200 });
  });

  it('reports a 429 or 5xx answer without an OAuth error body as a NetworkError fault, with its Retry-After', async () => {
    server.queue(
      '/token',
      { status: 502, headers: { 'content-type': 'text/html' }, body: '<h1>Bad Gateway</h1>' },
      { status: 503, headers: { 'retry-after': '120' }, json: { message: 'maintenance' } },
      { status: 429, headers: { 'retry-after': new Date(Date.now() + 30_000).toUTCString() }, body: '' },
      { status: 500, headers: { 'retry-after': '99' }, json: {} },
    );
    expect(await rejectionOf(poll())).toMatchObject({ code: 'NetworkError', status: 502, message: 'The server answered HTTP 502 (text/html, 20 bytes) with no OAuth error' });
    expect(await rejectionOf(poll())).toMatchObject({ code: 'NetworkError', status: 503, retryAfter: 120 });
    const limited = await rejectionOf(poll());
    expect(limited).toMatchObject({ code: 'NetworkError', status: 429 });
    expect(limited.retryAfter).toBeGreaterThanOrEqual(28);
    expect(limited.retryAfter).toBeLessThanOrEqual(30);
    // Retry-After counts only on 429 and 503.
    expect((await rejectionOf(poll())).retryAfter).toBeUndefined();
  });

  it("reports a framework's error JSON with a 5xx, server_error with a 5xx and temporarily_unavailable as faults", async () => {
    server.queue(
      '/token',
      // Spring Boot's default error body, and Fastify's.
      { status: 503, headers: { 'retry-after': '7' }, json: { timestamp: '2026-11-27T10:00:00Z', status: 503, error: 'Service Unavailable', path: '/token' } },
      { status: 500, json: { statusCode: 500, error: 'Internal Server Error', message: 'boom' } },
      { status: 500, json: { error: { code: 17 } } },
      { status: 500, json: { error: 'server_error' } },
      { status: 400, json: { error: 'temporarily_unavailable', error_description: 'try later' } },
    );
    expect(await rejectionOf(poll())).toMatchObject({
      code: 'NetworkError',
      status: 503,
      retryAfter: 7,
      message: expect.stringMatching(/^The server answered HTTP 503 \(application\/json, \d+ bytes\) with no OAuth error$/),
    });
    expect((await rejectionOf(poll())).error).toBeUndefined();
    expect(await rejectionOf(poll())).toMatchObject({ code: 'NetworkError', status: 500 });
    expect(await rejectionOf(poll())).toMatchObject({ code: 'NetworkError', status: 500, error: 'server_error' });
    expect(await rejectionOf(poll())).toMatchObject({ code: 'NetworkError', status: 400, error: 'temporarily_unavailable' });
  });

  it('reports an unusable answer outside polling as ServerError, as Qt does, saying what arrived', async () => {
    server.queue(
      '/device',
      { status: 500, headers: { 'content-type': 'text/html; charset=utf-8' }, body: '<h1>Internal Server Error</h1>' },
      { status: 503, headers: { 'retry-after': '30' }, json: { error: 'Service Unavailable' } },
      { status: 503, json: { error: 'temporarily_unavailable', error_description: 'try later' } },
    );
    expect(await rejectionOf(authorize())).toMatchObject({ code: 'ServerError', status: 500, message: 'The server answered HTTP 500 (text/html, 30 bytes) with no OAuth error' });
    expect(await rejectionOf(authorize())).toMatchObject({ code: 'ServerError', status: 503, retryAfter: 30 });
    // An OAuth error is the server's own report: its error and description, for serverReportedErrorOccurred.
    expect(await rejectionOf(authorize())).toMatchObject({ code: 'ServerError', status: 503, error: 'temporarily_unavailable', errorDescription: 'try later' });
    server.queue('/token', { status: 502, headers: { 'content-type': 'text/html' }, body: '<h1>Bad Gateway</h1>' });
    expect(await rejectionOf(refresh())).toMatchObject({ code: 'ServerError', status: 502 });
  });

  it('keeps an OAuth error sent with a 429 or 5xx status an OAuth error', async () => {
    server.queue('/token', { status: 503, json: { error: 'invalid_client' } }, { status: 429, json: { error: 'slow_down' } });
    expect(await rejectionOf(poll())).toMatchObject({ code: 'ServerError', error: 'invalid_client', status: 503 });
    await expect(poll()).resolves.toEqual({ kind: 'slowDown', interval: null });
  });

  it('gives up on a request after 30 s by default, aborting it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      let aborted = false;
      const hanging = (_input: string, init: RequestInit) =>
        new Promise<Response>((_resolve, reject) => init.signal!.addEventListener('abort', () => ((aborted = true), reject(init.signal!.reason))));
      let settled = false;
      const pending = rejectionOf(poll({ fetch: hanging })).finally(() => (settled = true));
      await vi.advanceTimersByTimeAsync(29_999);
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(await pending).toMatchObject({ code: 'NetworkError', message: expect.stringMatching(/within 30 s$/) });
      expect(aborted).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('does not send a poll at or after the given expiry', async () => {
    const before = server.requests.length;
    const error = await rejectionOf(run('pollToken', { url: server.url('/token'), deviceCode: 'dc', requestedScopeTokens: [], notAfter: Date.now() - 1 }));
    expect(error.code).toBe('ExpiredError');
    expect(server.requests).toHaveLength(before);
  });

  it('fails with NetworkError when nothing answers', async () => {
    const gone = await LoopbackServer.start();
    const url = gone.url('/token');
    await gone.close();
    const error = await rejectionOf(run('pollToken', { url, deviceCode: 'dc', requestedScopeTokens: [] }));
    expect(error.code).toBe('NetworkError');
    expect(error.message).toMatch(/ECONNREFUSED/);
  });

  it('uses the injected fetch', async () => {
    const seen: string[] = [];
    server.handle('/token', { json: { error: 'authorization_pending' } });
    await poll({ fetch: (input, init) => (seen.push(input), fetch(input, init)) });
    expect(seen).toEqual([server.url('/token')]);
  });
});

describe('client authentication', () => {
  beforeAll(() => {
    server.handle('/device', { json: deviceAuthorization });
    server.handle('/token', { json: { access_token: 'at', refresh_token: 'rt2' } });
  });

  it('authenticates at the device authorization endpoint as well as at the token endpoint (RFC 8628 §3.1)', async () => {
    const options = { clientSecret: 'client-secret-1' };
    await authorize(options);
    await poll(options);
    await refresh(options);
    expect(server.requests.map((request) => request.params.get('client_secret'))).toEqual(['client-secret-1', 'client-secret-1', 'client-secret-1']);
  });

  it('sends Basic credentials to every endpoint with client_secret_basic', async () => {
    const actors = createDeviceFlowActors({ clientSecret: 's' });
    const client = { clientIdentifier: 'tv-app', clientAuthentication: 'client_secret_basic' } as const;
    await toPromise(createActor(actors.requestDeviceAuthorization, { input: { ...client, url: server.url('/device'), scope: [], nonce: null } }).start());
    await toPromise(createActor(actors.pollToken, { input: { ...client, url: server.url('/token'), deviceCode: 'd', requestedScopeTokens: [], notAfter: null } }).start());
    await toPromise(createActor(actors.refreshTokens, { input: { ...client, url: server.url('/token'), refreshToken: 'r', requestedScopeTokens: [] } }).start());
    expect(server.requests.map((request) => request.headers.authorization)).toEqual(Array(3).fill(`Basic ${btoa('tv-app:s')}`));
    // The secret travels in the header only; client_id stays in the body, where servers such as Authlib look for it.
    expect(server.requests.map((request) => [request.params.has('client_secret'), request.params.get('client_id')])).toEqual(Array(3).fill([false, 'tv-app']));
  });

  it('reads the secret afresh for every request', async () => {
    let secret = 'first';
    const actors = createDeviceFlowActors(() => ({ clientSecret: secret }));
    const pollOnce = () =>
      toPromise(
        createActor(actors.pollToken, {
          input: { url: server.url('/token'), clientIdentifier: 'c', clientAuthentication: 'client_secret_post', deviceCode: 'd', requestedScopeTokens: [], notAfter: null },
        }).start(),
      );
    await pollOnce();
    secret = 'second';
    await pollOnce();
    expect(server.requests.map((request) => request.params.get('client_secret'))).toEqual(['first', 'second']);
  });
});

describe('modifiers', () => {
  it("calls the parameter and request modifiers with Qt's stage names, and sends what they changed", async () => {
    server.handle('/device', { json: deviceAuthorization });
    server.handle('/token', { json: { access_token: 'at' } });
    const stages: string[] = [];
    const options: TransportOptions = {
      parameterModifier: (stage, params) => {
        stages.push(`params:${stage}`);
        params.set('resource', 'https://api.example.com');
      },
      requestModifier: async (request, stage) => {
        stages.push(`request:${stage}`);
        request.headers.set('x-stage', stage);
      },
    };
    await authorize(options);
    await poll(options);
    await refresh(options);
    expect(stages).toEqual([
      'params:RequestingAuthorization',
      'request:RequestingAuthorization',
      'params:RequestingAccessToken',
      'request:RequestingAccessToken',
      'params:RefreshingAccessToken',
      'request:RefreshingAccessToken',
    ]);
    expect(server.requests.map((request) => [request.headers['x-stage'], request.params.get('resource')])).toEqual([
      ['RequestingAuthorization', 'https://api.example.com'],
      ['RequestingAccessToken', 'https://api.example.com'],
      ['RefreshingAccessToken', 'https://api.example.com'],
    ]);
  });

  it('lets the request modifier send the request elsewhere', async () => {
    server.handle('/token-v2', { json: { error: 'authorization_pending' } });
    await poll({ requestModifier: (request) => void (request.url.pathname = '/token-v2') });
    expect(server.requests.map((request) => request.path)).toEqual(['/token-v2']);
  });

  it('fails with ClientError, sending nothing, when a modifier throws', async () => {
    const error = await rejectionOf(poll({ requestModifier: () => Promise.reject(new Error('no signing key')) }));
    expect(error).toMatchObject({ code: 'ClientError' });
    expect(error.message).toMatch(/no signing key/);
    expect(server.requests).toHaveLength(0);
  });
});

describe('secrets in errors', () => {
  const leaks = (error: Error & { errorDescription?: string; errorUri?: string }, secrets: string[]) => {
    const everything = `${error.message} ${JSON.stringify(error)} ${error.errorDescription} ${error.errorUri} ${String(error.cause)}`;
    return secrets.filter((secret) => everything.includes(secret));
  };

  it('redacts secrets with quotes and backslashes', async () => {
    const secret = 'q"S3cr3t\\x-client';
    server.queue('/device', { status: 401, json: { error: 'invalid_client', error_description: `wrong secret ${secret}` } });
    const error = await rejectionOf(authorize({ clientSecret: secret }));
    expect(leaks(error, [secret])).toEqual([]);
    expect(error.errorDescription).toBe('wrong secret [redacted]');
  });

  it('redacts a secret that a long description would cut in two in the message', async () => {
    const description = `${'x'.repeat(290)} dc-secret-1 and more`;
    server.queue('/token', { status: 400, json: { error: 'invalid_grant', error_description: description } });
    const error = await rejectionOf(poll());
    expect(leaks(error, ['dc-secret-1', 'dc-secre'])).toEqual([]);
  });

  it('redacts echoed Basic credentials', async () => {
    const credentials = btoa('tv-app:basic-secret-1');
    server.queue('/token', { status: 401, json: { error: 'invalid_client', error_description: `bad Authorization: Basic ${credentials}` } });
    const actors = createDeviceFlowActors({ clientSecret: 'basic-secret-1' });
    const actor = createActor(actors.pollToken, {
      input: { url: server.url('/token'), clientIdentifier: 'tv-app', clientAuthentication: 'client_secret_basic', deviceCode: 'dc-secret-1', requestedScopeTokens: [], notAfter: null },
    }).start();
    const error = await rejectionOf(toPromise(actor));
    expect(server.requestsTo('/token').at(-1)!.headers.authorization).toBe(`Basic ${credentials}`);
    expect(leaks(error, [credentials, 'basic-secret-1'])).toEqual([]);
  });

  it('redacts secrets from the exceptions of modifiers and custom fetch functions, keeping a redacted copy of the cause', async () => {
    const modifierError = await rejectionOf(
      poll({ clientSecret: 'client-secret-1', requestModifier: () => Promise.reject(new Error('cannot sign with client-secret-1')) }),
    );
    const fetchError = await rejectionOf(
      poll({ fetch: async (_input, init) => Promise.reject(new Error(`proxy refused body ${String(init.body)}`)) }),
    );
    expect(leaks(modifierError, ['client-secret-1'])).toEqual([]);
    expect(leaks(fetchError, ['dc-secret-1'])).toEqual([]);
    expect(fetchError.code).toBe('NetworkError');
    expect(modifierError.cause).toMatchObject({ name: 'Error', message: 'cannot sign with [redacted]' });
  });

  it('redacts secrets a server echoes percent-encoded, form-encoded or JSON-escaped, and short secrets that stand alone', async () => {
    // An Azure-style secret, a Google-style refresh token, and a six-character test secret.
    const clientSecret = 'S3cr3t+/=~long secret "value"';
    const echoed = (body: string) => ({ status: 400, json: { error: 'invalid_client', error_description: `received ${body}` } });
    server.handle('/echo', (request) => echoed(`${request.body} ${encodeURIComponent(clientSecret).replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase())} ${JSON.stringify({ clientSecret })}`));
    const actors = createDeviceFlowActors({ clientSecret });
    const input = { url: server.url('/echo'), clientIdentifier: 'tv-app', clientAuthentication: 'client_secret_post' as const, deviceCode: '1//0gDeviceCode+x', requestedScopeTokens: [], notAfter: null };
    const error = await rejectionOf(toPromise(createActor(actors.pollToken, { input }).start()));
    const encodings = [clientSecret, encodeURIComponent(clientSecret), new URLSearchParams({ s: clientSecret }).toString().slice(2), JSON.stringify(clientSecret).slice(1, -1)];
    expect(leaks(error, [...encodings, '1//0gDeviceCode+x', '1%2F%2F0gDeviceCode%2Bx'])).toEqual([]);
    expect(error.errorDescription).toMatch(/^received grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=\[redacted\]&client_id=tv-app&client_secret=\[redacted\] \[redacted\] \{"clientSecret":"\[redacted\]"\}$/);

    const short = await rejectionOf(toPromise(createActor(createDeviceFlowActors({ clientSecret: 'S3cr3t' }).pollToken, { input }).start()));
    expect(leaks(short, ['S3cr3t'])).toEqual([]);
    // Alone, not inside other words: "S3cr3tive" is left as it is.
    server.queue('/token', { status: 400, json: { error: 'invalid_grant', error_description: 'S3cr3tive, not S3cr3t' } });
    expect((await rejectionOf(poll({ clientSecret: 'S3cr3t' }))).errorDescription).toBe('S3cr3tive, not [redacted]');
  });

  it('redacts the device code, refresh token and client secret that a server echoes back', async () => {
    server.queue('/token', { status: 400, json: { error: 'invalid_grant', error_description: 'bad device code dc-secret-1 for client-secret-1' } });
    const pollError = await rejectionOf(poll({ clientSecret: 'client-secret-1' }));
    server.queue('/token', { status: 400, json: { error: 'invalid_grant', error_description: 'refresh token rt-secret-1 revoked', error_uri: 'https://x/rt-secret-1' } });
    const refreshError = await rejectionOf(refresh());
    for (const error of [pollError, refreshError]) {
      const everything = `${error.message} ${JSON.stringify(error)} ${error.errorDescription} ${error.errorUri}`;
      expect(everything).not.toMatch(/dc-secret-1|rt-secret-1|client-secret-1/);
      expect(everything).toContain('[redacted]');
    }
  });
});
