import { exactClock } from './helpers/exactClock.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeDevice, type UserCodePrompt } from '../src/promise/authorizeDevice.js';
import { rejectionOf } from './helpers/expectError.js';
import { deviceAuthorizationReply, pending, tokenReply } from './helpers/flowHarness.js';
import { LoopbackServer } from './helpers/loopbackServer.js';
import { T0 } from './helpers/machineHarness.js';

let server: LoopbackServer;
beforeAll(async () => {
  server = await LoopbackServer.start();
  server.handle('/device', deviceAuthorizationReply({ message: 'Go to example.com' }));
});
afterAll(() => server.close());

function options() {
  const clock = exactClock(T0);
  return { clock, options: { authorizationUrl: server.url('/device'), tokenUrl: server.url('/token'), clientIdentifier: 'cli', clock } };
}

describe('authorizeDevice', () => {
  it('settles with a ServerError when a token response is nested thousands of levels deep', async () => {
    const deep = `${'['.repeat(3_000)}${']'.repeat(3_000)}`;
    server.queue('/token', { status: 200, headers: { 'content-type': 'application/json' }, body: `{"access_token":"a","x":${deep}}` });
    const { clock, options: flowOptions } = options();
    const result = authorizeDevice(flowOptions, { onFlow: (flow) => flow.on('nextPollAtChanged', (at) => at && clock.set(at.getTime())) });
    await expect(result).rejects.toMatchObject({ code: 'ServerError', message: 'The server sent JSON that nests objects and arrays deeper than 32 levels (HTTP 200)' });
  });


  it('resolves with the tokens after showing the user code', async () => {
    server.queue('/token', pending, tokenReply({ scope: 'read write', id_token: 'idt' }));
    const { clock, options: flowOptions } = options();
    const prompts: UserCodePrompt[] = [];
    const result = authorizeDevice(flowOptions, {
      onUserCode: (prompt) => prompts.push(prompt),
      // Each time a poll is scheduled, let the simulated time reach it.
      onFlow: (flow) => flow.on('nextPollAtChanged', (at) => at && clock.set(at.getTime())),
    });
    await expect(result).resolves.toEqual({
      accessToken: 'access-token-1',
      tokenType: 'Bearer',
      refreshToken: 'refresh-token-1',
      idToken: 'idt',
      // No issuer given: the ID token is taken as it came, and has no validated claims.
      idTokenClaims: null,
      expiresAt: expect.any(Date),
      scope: ['read', 'write'],
      extraTokens: { message: 'Go to example.com' },
    });
    expect(prompts).toEqual([
      {
        verificationUrl: new URL('https://example.com/device'),
        userCode: 'WDJB-MJHT',
        completeVerificationUrl: new URL('https://example.com/device?user_code=WDJB-MJHT'),
        expiresAt: new Date(T0 + 1_800_000),
        extraTokens: { message: 'Go to example.com' },
      },
    ]);
  });

  it('rejects with the DeviceFlowError of the failure', async () => {
    server.queue('/token', { status: 400, json: { error: 'access_denied' } });
    const { clock, options: flowOptions } = options();
    const error = await rejectionOf(authorizeDevice(flowOptions, { onFlow: (flow) => flow.on('nextPollAtChanged', (at) => at && clock.set(at.getTime())) }));
    expect(error).toMatchObject({ code: 'ServerError', error: 'access_denied' });
  });

  it('rejects at once on configuration errors', async () => {
    const error = await rejectionOf(authorizeDevice({ tokenUrl: server.url('/token') }));
    expect(error.code).toBe('ClientError');
  });

  it('cancels during the wait between polls, with the signal’s reason, and polls no more', async () => {
    const { clock, options: flowOptions } = options();
    const controller = new AbortController();
    const tokenRequestsBefore = server.requestsTo('/token').length;
    const result = authorizeDevice(flowOptions, { signal: controller.signal, onUserCode: () => controller.abort(new Error('user pressed Ctrl-C')) });
    await expect(result).rejects.toThrow('user pressed Ctrl-C');
    clock.increment(60_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.requestsTo('/token')).toHaveLength(tokenRequestsBefore);
  });

  it('cancels during a request, closing it', async () => {
    let closed!: () => void;
    const requestClosed = new Promise<void>((resolve) => (closed = resolve));
    server.handle('/token', (_request, response) => {
      response.on('close', closed);
      return 'handled';
    });
    const { clock, options: flowOptions } = options();
    const controller = new AbortController();
    const result = authorizeDevice(flowOptions, {
      signal: controller.signal,
      onFlow: (flow) => flow.on('nextPollAtChanged', (at) => at && clock.set(at.getTime())),
    });
    await server.nextRequest('/token');
    controller.abort();
    await expect(result).rejects.toMatchObject({ name: 'AbortError' });
    await requestClosed;
  });

  it('rejects at once with an already aborted signal, sending nothing', async () => {
    const before = server.requests.length;
    await expect(authorizeDevice(options().options, { signal: AbortSignal.abort(new Error('too late')) })).rejects.toThrow('too late');
    expect(server.requests).toHaveLength(before);
  });

  it('rejects with the exception of onUserCode', async () => {
    await expect(
      authorizeDevice(options().options, {
        onUserCode: () => {
          throw new Error('no display');
        },
      }),
    ).rejects.toThrow('no display');
  });
});
