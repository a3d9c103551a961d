import { describe, expect, it } from 'vitest';
import { parsePollResponse, parseRefreshResponse } from '../../src/core/protocol/tokenResponse.js';
import { thrownBy } from '../helpers/expectError.js';

const request = { requestedScopeTokens: ['read', 'write'] };
const success = { access_token: 'at', token_type: 'Bearer', refresh_token: 'rt', expires_in: 3600, scope: 'read' };

describe('parsePollResponse', () => {
  it('reads a token response', () => {
    expect(parsePollResponse({ ...success, extra_member: 1 }, request)).toEqual({
      kind: 'granted',
      tokens: {
        accessToken: 'at',
        tokenType: 'Bearer',
        refreshToken: 'rt',
        idToken: '',
        expiresIn: 3600,
        grantedScopeTokens: ['read'],
        extraTokens: { extra_member: 1 },
      },
    });
  });

  it.each([
    ['bearer', 'Bearer'],
    ['BEARER', 'Bearer'],
    ['dpop', 'DPoP'],
    ['DPoP', 'DPoP'],
    ['mac', 'mac'],
    [undefined, 'Bearer'],
  ])('reads token_type %j as %j: registered names in their registered spelling (RFC 6749 §7.1)', (tokenType, expected) => {
    const outcome = parsePollResponse({ ...success, token_type: tokenType }, request);
    expect(outcome.kind === 'granted' && outcome.tokens.tokenType).toBe(expected);
  });

  it.each([[''], ['Bearer token'], [42], ['x'.repeat(65)]])('refuses token_type %j with a ServerError', (tokenType) => {
    expect(thrownBy(() => parsePollResponse({ ...success, token_type: tokenType }, request))).toMatchObject({
      code: 'ServerError',
      message: 'The token response has a token_type that is not a token type name',
    });
  });

  it('grants the requested scope when the response omits scope (RFC 6749 §5.1)', () => {
    const { scope: _s, ...withoutScope } = success;
    const outcome = parsePollResponse(withoutScope, request);
    expect(outcome.kind === 'granted' && outcome.tokens.grantedScopeTokens).toEqual(['read', 'write']);
  });

  it('reports an omitted refresh_token as null, so the previous one is kept', () => {
    const { refresh_token: _r, ...withoutRefresh } = success;
    const outcome = parsePollResponse(withoutRefresh, request);
    expect(outcome.kind === 'granted' && outcome.tokens.refreshToken).toBeNull();
  });

  it('accepts expires_in as a numeric string, and ignores unusable ones', () => {
    const stringExpiry = parsePollResponse({ ...success, expires_in: '20' }, request);
    expect(stringExpiry.kind === 'granted' && stringExpiry.tokens.expiresIn).toBe(20);
    for (const bad of [0, -5, 'garbage', null]) {
      const outcome = parsePollResponse({ ...success, expires_in: bad }, request);
      expect(outcome.kind === 'granted' && outcome.tokens.expiresIn).toBeNull();
    }
  });

  it('keeps pending and slow_down apart, with the interval GitHub sends', () => {
    expect(parsePollResponse({ error: 'authorization_pending' }, request)).toEqual({ kind: 'pending' });
    expect(parsePollResponse({ error: 'slow_down' }, request)).toEqual({ kind: 'slowDown', interval: null });
    expect(parsePollResponse({ error: 'slow_down', interval: '25' }, request)).toEqual({ kind: 'slowDown', interval: 25 });
  });

  it('maps expired_token to ExpiredError and other errors to ServerError', () => {
    expect(thrownBy(() => parsePollResponse({ error: 'expired_token' }, request, 400))).toMatchObject({ code: 'ExpiredError', error: 'expired_token', status: 400 });
    for (const error of ['access_denied', 'authorization_declined', 'incorrect_device_code', 'invalid_grant']) {
      expect(thrownBy(() => parsePollResponse({ error, error_description: 'd' }, request))).toMatchObject({ code: 'ServerError', error, errorDescription: 'd' });
    }
  });

  it('refuses a scope of more than 1000 tokens as unusable (ServerError), without splitting all of it', () => {
    const scope = (count: number) => Array.from({ length: count }, (_, index) => `s${index}`).join(' ');
    expect(parsePollResponse({ access_token: 'a', scope: scope(1000) }, { requestedScopeTokens: [] })).toMatchObject({ kind: 'granted' });
    expect(thrownBy(() => parsePollResponse({ access_token: 'a', scope: scope(120_000) }, { requestedScopeTokens: [] }, 200))).toMatchObject({
      code: 'ServerError',
      message: 'The token response grants more than 1000 scope tokens',
      status: 200,
    });
  });

  it('requires an access_token', () => {
    const error = thrownBy(() => parsePollResponse({ token_type: 'Bearer', refresh_token: 'rt' }, request));
    expect(error.code).toBe('OAuthTokenNotFoundError');
    expect(error.message).toMatch(/access_token/);
  });

  it('requires an id_token when openid was granted, explicitly or by omission', () => {
    expect(thrownBy(() => parsePollResponse({ ...success, scope: 'openid read' }, request)).code).toBe('OAuthTokenNotFoundError');
    const { scope: _s, ...withoutScope } = success;
    expect(thrownBy(() => parsePollResponse(withoutScope, { requestedScopeTokens: ['openid'] })).message).toMatch(/id_token/);
    const outcome = parsePollResponse({ ...success, scope: 'openid', id_token: 'eyJ.x.y' }, request);
    expect(outcome.kind === 'granted' && outcome.tokens.idToken).toBe('eyJ.x.y');
  });
});

describe('parseRefreshResponse', () => {
  it('reads tokens and lets OpenID Connect refresh responses omit the id_token', () => {
    expect(parseRefreshResponse({ ...success, scope: 'openid' }, request)).toMatchObject({ accessToken: 'at', idToken: '' });
  });

  it('treats pending and slow_down as failures, so a refresh never hangs', () => {
    expect(thrownBy(() => parseRefreshResponse({ error: 'authorization_pending' }, request)).code).toBe('ServerError');
    expect(thrownBy(() => parseRefreshResponse({ error: 'slow_down' }, request)).code).toBe('ServerError');
    expect(thrownBy(() => parseRefreshResponse({ error: 'invalid_grant' }, request))).toMatchObject({ code: 'ServerError', error: 'invalid_grant' });
  });
});
