import { describe, expect, it } from 'vitest';
import {
  authenticateClient,
  DEVICE_CODE_GRANT_TYPE,
  deviceAuthorizationParameters,
  deviceCodeGrantParameters,
  refreshGrantParameters,
} from '../../src/core/protocol/requests.js';
import { findInvalidScopeToken, isScopeToken, splitScope } from '../../src/core/protocol/scope.js';

describe('request parameters', () => {
  it('sends client_id, then scope and nonce only when there are any', () => {
    expect([...deviceAuthorizationParameters({ clientIdentifier: 'tv', scope: [], nonce: null })]).toEqual([['client_id', 'tv']]);
    expect([...deviceAuthorizationParameters({ clientIdentifier: 'tv', scope: ['openid', 'profile'], nonce: 'n-1' })]).toEqual([
      ['client_id', 'tv'],
      ['scope', 'openid profile'],
      ['nonce', 'n-1'],
    ]);
  });

  it('polls with the device code grant type', () => {
    expect(Object.fromEntries(deviceCodeGrantParameters({ clientIdentifier: 'tv', deviceCode: 'dc' }))).toEqual({
      grant_type: DEVICE_CODE_GRANT_TYPE,
      device_code: 'dc',
      client_id: 'tv',
    });
    expect(DEVICE_CODE_GRANT_TYPE).toBe('urn:ietf:params:oauth:grant-type:device_code');
  });

  it('refreshes without scope', () => {
    expect(Object.fromEntries(refreshGrantParameters({ clientIdentifier: 'tv', refreshToken: 'rt' }))).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'rt',
      client_id: 'tv',
    });
  });
});

describe('authenticateClient', () => {
  const run = (method: Parameters<typeof authenticateClient>[0], clientSecret: string, clientIdentifier = 'tv') => {
    const params = new URLSearchParams({ client_id: clientIdentifier });
    const headers = new Headers();
    authenticateClient(method, { clientIdentifier, clientSecret }, params, headers);
    return { params: Object.fromEntries(params), authorization: headers.get('authorization') };
  };

  it('puts the secret in the body with client_secret_post', () => {
    expect(run('client_secret_post', 's3cret')).toEqual({ params: { client_id: 'tv', client_secret: 's3cret' }, authorization: null });
  });

  it('uses Basic with form-encoded credentials, as RFC 6749 §2.3.1 requires, keeping client_id in the body (§3.2.1)', () => {
    const { params, authorization } = run('client_secret_basic', 'p@ss w:rd+é', 'my client');
    expect(params).toEqual({ client_id: 'my client' });
    expect(authorization).toBe(`Basic ${btoa('my+client:p%40ss+w%3Ard%2B%C3%A9')}`);
  });

  it('sends no secret for public clients, whatever the method', () => {
    expect(run('none', 's3cret')).toEqual({ params: { client_id: 'tv' }, authorization: null });
    expect(run('client_secret_post', '')).toEqual({ params: { client_id: 'tv' }, authorization: null });
    expect(run('client_secret_basic', '')).toEqual({ params: { client_id: 'tv' }, authorization: null });
  });
});

describe('scope tokens', () => {
  it('accepts RFC 6749 §3.3 scope tokens only', () => {
    for (const token of ['openid', 'https://graph.microsoft.com/.default', 'repo:status', 'a!#$%&()*+,-./:;<=>?@[]^_`{|}~']) {
      expect(isScopeToken(token)).toBe(true);
    }
    for (const token of ['', 'two words', 'quo"te', 'back\\slash', 'tab\t', '\x03', 'é']) expect(isScopeToken(token)).toBe(false);
    expect(findInvalidScopeToken(['ok', 42, 'x y'])).toBe(1);
    expect(findInvalidScopeToken(['ok'])).toBe(-1);
  });

  it('splits on spaces without empty parts or duplicates, and on the commas GitHub uses', () => {
    expect(splitScope(' read  write read ')).toEqual(['read', 'write']);
    expect(splitScope('repo,gist')).toEqual(['repo', 'gist']);
  });
});
