import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFlowError } from '../../src/core/errors.js';
import { OAuth2DeviceAuthorizationFlow } from '../../src/flow/oauth2DeviceAuthorizationFlow.js';
import { thrownBy } from '../helpers/expectError.js';
import { createTestFlow, deviceAuthorizationReply, nextSignal, recordSignals, tokenReply } from '../helpers/flowHarness.js';
import { LoopbackServer } from '../helpers/loopbackServer.js';

let server: LoopbackServer;
beforeAll(async () => {
  server = await LoopbackServer.start();
});
afterAll(() => server.close());

describe('writable properties', () => {
  it('take their values from the options and show them typed', () => {
    const flow = new OAuth2DeviceAuthorizationFlow({
      authorizationUrl: 'https://as.example/device',
      tokenUrl: new URL('https://as.example/token'),
      clientIdentifier: 'tv',
      clientIdentifierSharedKey: 'secret',
      clientAuthentication: 'client_secret_basic',
      requestedScopeTokens: new Set(['openid', 'profile']),
      nonceMode: 'Enabled',
      nonce: 'n',
      autoRefresh: true,
      refreshLeadTime: 30,
      token: 'at',
      refreshToken: 'rt',
      requestTimeout: 5_000,
      maxResponseBytes: 4096,
    });
    expect(flow.authorizationUrl).toEqual(new URL('https://as.example/device'));
    expect(flow.tokenUrl?.href).toBe('https://as.example/token');
    expect([flow.clientIdentifier, flow.clientIdentifierSharedKey, flow.clientAuthentication]).toEqual(['tv', 'secret', 'client_secret_basic']);
    expect(flow.requestedScopeTokens).toEqual(['openid', 'profile']);
    expect([flow.nonceMode, flow.nonce, flow.autoRefresh, flow.refreshLeadTime]).toEqual(['Enabled', 'n', true, 30]);
    expect([flow.token, flow.refreshToken, flow.requestTimeout, flow.maxResponseBytes]).toEqual(['at', 'rt', 5_000, 4096]);
    flow.dispose();
  });

  it('have Qt-like defaults', () => {
    const flow = new OAuth2DeviceAuthorizationFlow();
    expect(flow).toMatchObject({
      authorizationUrl: null,
      tokenUrl: null,
      clientIdentifier: '',
      clientIdentifierSharedKey: '',
      clientAuthentication: 'client_secret_post',
      nonceMode: 'Automatic',
      nonce: '',
      autoRefresh: false,
      refreshLeadTime: 0,
      token: '',
      refreshToken: '',
      status: 'NotAuthenticated',
      polling: false,
      userCode: '',
      verificationUrl: null,
      completeVerificationUrl: null,
      userCodeExpirationAt: null,
      nextPollAt: null,
      idToken: '',
      expirationAt: null,
      networkRequestModifier: null,
      modifyParametersFunction: null,
    });
    expect(flow.requestedScopeTokens).toEqual([]);
    expect(flow.grantedScopeTokens).toEqual([]);
    expect(flow.extraTokens).toEqual({});
    flow.dispose();
  });

  it('announce a change only when the value changes', () => {
    const flow = new OAuth2DeviceAuthorizationFlow();
    const recorder = recordSignals(flow);
    flow.tokenUrl = 'https://as.example/token';
    flow.tokenUrl = new URL('https://as.example/token');
    flow.requestedScopeTokens = ['a', 'b'];
    flow.requestedScopeTokens = ['b', 'a'];
    flow.token = 'x';
    flow.token = 'x';
    flow.autoRefresh = true;
    flow.refreshLeadTime = 5;
    flow.clientIdentifier = 'tv';
    flow.nonceMode = 'Disabled';
    flow.nonce = 'n';
    flow.refreshToken = 'r';
    flow.authorizationUrl = 'https://as.example/device';
    flow.clientAuthentication = 'none';
    expect(recorder.signals).toEqual([
      { name: 'tokenUrlChanged', args: [new URL('https://as.example/token')] },
      { name: 'requestedScopeTokensChanged', args: [['a', 'b']] },
      // The order of requested scope tokens is the order they are sent in: a new order is a change.
      { name: 'requestedScopeTokensChanged', args: [['b', 'a']] },
      { name: 'tokenChanged', args: ['x'] },
      { name: 'autoRefreshChanged', args: [true] },
      { name: 'refreshLeadTimeChanged', args: [5] },
      { name: 'clientIdentifierChanged', args: ['tv'] },
      { name: 'nonceModeChanged', args: ['Disabled'] },
      { name: 'nonceChanged', args: ['n'] },
      { name: 'refreshTokenChanged', args: ['r'] },
      { name: 'authorizationUrlChanged', args: [new URL('https://as.example/device')] },
      { name: 'clientAuthenticationChanged', args: ['none'] },
    ]);
    flow.dispose();
  });

  it.each([
    ['authorizationUrl', 'not a url', /authorizationUrl must be an absolute URL/],
    ['tokenUrl', 'ftp://as.example/token', /tokenUrl must be an http: or https: URL/],
    ['requestedScopeTokens', ['ok', 'not ok'], /"not ok", which is not a scope token/],
    ['requestedScopeTokens', ['\x03'], /not a scope token/],
    ['requestedScopeTokens', ['é'], /not a scope token/],
    ['requestedScopeTokens', [''], /not a scope token/],
    ['requestedScopeTokens', 'openid profile', /must be a list/],
    ['refreshLeadTime', -1, /0 or more/],
    ['nonceMode', 'Sometimes', /'Automatic', 'Enabled', 'Disabled'/],
    ['clientAuthentication', 'private_key_jwt', /'client_secret_post', 'client_secret_basic', 'none'/],
    ['autoRefresh', 'yes', /true or false/],
    ['requestTimeout', 0, /positive number/],
  ])('refuse an invalid %s with ClientError and keep the old value', (name, value, message) => {
    const flow = new OAuth2DeviceAuthorizationFlow({ requestedScopeTokens: ['kept'], tokenUrl: 'https://as.example/token' });
    const before = (flow as unknown as Record<string, unknown>)[name];
    const error = thrownBy(() => {
      (flow as unknown as Record<string, unknown>)[name] = value;
    });
    expect(error).toBeInstanceOf(DeviceFlowError);
    expect(error.code).toBe('ClientError');
    expect(error.message).toMatch(message);
    expect((flow as unknown as Record<string, unknown>)[name]).toEqual(before);
    expect(thrownBy(() => new OAuth2DeviceAuthorizationFlow({ [name]: value })).code).toBe('ClientError');
    flow.dispose();
  });

  it('never quote a token in a validation error', () => {
    const flow = new OAuth2DeviceAuthorizationFlow();
    expect(thrownBy(() => ((flow as unknown as { token: unknown }).token = 42)).message).toBe('Invalid setting: token must be a string');
    flow.dispose();
  });

  it('take effect for the next request: endpoints, client, secret, fetch and modifiers', async () => {
    server.handle('/device', deviceAuthorizationReply());
    server.handle('/other-device', deviceAuthorizationReply());
    const { flow } = createTestFlow(server);
    const calls: string[] = [];
    flow.authorizationUrl = server.url('/other-device');
    flow.clientIdentifier = 'renamed';
    flow.clientIdentifierSharedKey = 'secret-2';
    flow.fetch = (input, init) => (calls.push(input), fetch(input, init));
    flow.networkRequestModifier = (request) => request.headers.set('x-test', '1');
    flow.modifyParametersFunction = (_stage, params) => params.set('resource', 'r');
    flow.grant();
    const request = await server.nextRequest('/other-device');
    expect(Object.fromEntries(request.params)).toEqual({ client_id: 'renamed', client_secret: 'secret-2', resource: 'r' });
    expect(request.headers['x-test']).toBe('1');
    expect(calls).toEqual([server.url('/other-device')]);
    flow.dispose();
  });

  it('send the requested scope tokens in the order last given, also when only the order changed', async () => {
    server.handle('/device', deviceAuthorizationReply());
    const { flow } = createTestFlow(server, { requestedScopeTokens: ['a', 'b'] });
    flow.requestedScopeTokens = ['b', 'a'];
    flow.grant();
    expect((await server.nextRequest('/device')).params.get('scope')).toBe('b a');
    flow.dispose();
  });
});

describe('read-only properties', () => {
  it('show the user code, URLs and times as URL and Date objects, and copies of lists', async () => {
    server.handle('/device', deviceAuthorizationReply({ message: 'hello' }));
    const { flow } = createTestFlow(server);
    flow.grant();
    await nextSignal(flow, 'authorizeWithUserCode');
    expect(flow.userCode).toBe('WDJB-MJHT');
    expect(flow.verificationUrl).toBeInstanceOf(URL);
    expect(flow.completeVerificationUrl?.searchParams.get('user_code')).toBe('WDJB-MJHT');
    expect(flow.userCodeExpirationAt).toBeInstanceOf(Date);
    expect(flow.nextPollAt).toBeInstanceOf(Date);
    expect(flow.status).toBe('TemporaryCredentialsReceived');
    expect(flow.polling).toBe(true);
    expect(Object.isFrozen(flow.extraTokens)).toBe(true);
    expect(() => ((flow.extraTokens as Record<string, unknown>).message = 'changed')).toThrow(TypeError);
    expect(flow.extraTokens).toEqual({ message: 'hello' });
    flow.dispose();
  });

  it('give null for a complete verification URL the server did not send', async () => {
    server.handle('/device', deviceAuthorizationReply({ verification_uri_complete: undefined }));
    const { flow } = createTestFlow(server);
    flow.grant();
    const [, , complete] = await nextSignal(flow, 'authorizeWithUserCode');
    expect(complete).toBeNull();
    expect(flow.completeVerificationUrl).toBeNull();
    flow.dispose();
  });
});

describe('token updates', () => {
  it('are all or nothing: a response without access_token or without the id_token changes no token property', async () => {
    for (const reply of [tokenReply({ access_token: undefined }), tokenReply({ scope: 'openid' })]) {
      server.handle('/device', deviceAuthorizationReply());
      server.queue('/token', reply);
      const { flow, clock, recorder } = createTestFlow(server, { token: 'old-token', refreshToken: 'old-refresh' });
      flow.grant();
      await nextSignal(flow, 'authorizeWithUserCode');
      recorder.drain();
      clock.increment(5_000);
      const [error] = await nextSignal(flow, 'requestFailed');
      expect(error.code).toBe('OAuthTokenNotFoundError');
      expect(recorder.drain()).toEqual(['requestFailed', 'pollingChanged', 'nextPollAtChanged']);
      expect(flow).toMatchObject({ token: 'old-token', refreshToken: 'old-refresh', idToken: '', expirationAt: null, status: 'TemporaryCredentialsReceived' });
      flow.dispose();
    }
  });

  it('keep the refresh token a response omits, and take expires_in given as a string', async () => {
    server.handle('/device', deviceAuthorizationReply());
    server.queue('/token', tokenReply({ refresh_token: undefined, expires_in: '120' }));
    const { flow, clock } = createTestFlow(server, { refreshToken: 'kept' });
    flow.grant();
    await nextSignal(flow, 'authorizeWithUserCode');
    clock.increment(5_000);
    await nextSignal(flow, 'granted');
    expect(flow.refreshToken).toBe('kept');
    expect(flow.expirationAt?.getTime()).toBe(clock.now() + 120_000);
    expect(flow.grantedScopeTokens).toEqual([]);
    flow.dispose();
  });
});
