import { describe, expect, it } from 'vitest';
import { parseDeviceAuthorizationResponse } from '../../src/core/protocol/deviceAuthorizationResponse.js';
import { thrownBy } from '../helpers/expectError.js';

const rfcExample = {
  device_code: 'GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS',
  user_code: 'WDJB-MJHT',
  verification_uri: 'https://example.com/device',
  verification_uri_complete: 'https://example.com/device?user_code=WDJB-MJHT',
  expires_in: 1800,
  interval: 5,
};

describe('parseDeviceAuthorizationResponse', () => {
  it('reads the RFC 8628 §3.2 example', () => {
    expect(parseDeviceAuthorizationResponse(rfcExample)).toEqual({
      deviceCode: 'GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS',
      userCode: 'WDJB-MJHT',
      verificationUrl: 'https://example.com/device',
      completeVerificationUrl: 'https://example.com/device?user_code=WDJB-MJHT',
      expiresIn: 1800,
      interval: 5,
      extraTokens: {},
    });
  });

  it("accepts Google's verification_url and verification_url_complete", () => {
    const { verification_uri: _u, verification_uri_complete: _c, ...rest } = rfcExample;
    const parsed = parseDeviceAuthorizationResponse({
      ...rest,
      verification_url: 'https://www.google.com/device',
      verification_url_complete: 'https://www.google.com/device?code=1',
    });
    expect(parsed.verificationUrl).toBe('https://www.google.com/device');
    expect(parsed.completeVerificationUrl).toBe('https://www.google.com/device?code=1');
  });

  it('accepts expires_in and interval as numeric strings (form bodies, loose servers)', () => {
    const parsed = parseDeviceAuthorizationResponse({ ...rfcExample, expires_in: '900', interval: '7' });
    expect(parsed.expiresIn).toBe(900);
    expect(parsed.interval).toBe(7);
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['zero', 0],
    ['negative', -1],
    ['not a number', 'soon'],
    ['NaN', Number.NaN],
  ])('uses 5 s when interval is %s', (_name, interval) => {
    expect(parseDeviceAuthorizationResponse({ ...rfcExample, interval }).interval).toBe(5);
  });

  it('raises intervals under a second to one second, and caps durations at a day', () => {
    expect(parseDeviceAuthorizationResponse({ ...rfcExample, interval: 0.001 }).interval).toBe(1);
    expect(parseDeviceAuthorizationResponse({ ...rfcExample, interval: 1e12, expires_in: 1e12 })).toMatchObject({
      interval: 86_400,
      expiresIn: 86_400,
    });
  });

  it.each(['device_code', 'user_code', 'verification_uri', 'expires_in'])('fails with OAuthTokenNotFoundError when %s is missing', (member) => {
    const { [member as keyof typeof rfcExample]: _dropped, ...rest } = rfcExample;
    const error = thrownBy(() => parseDeviceAuthorizationResponse(rest, 200));
    expect(error.code).toBe('OAuthTokenNotFoundError');
    expect(error.message).toContain(member);
    expect(error.status).toBe(200);
  });

  it.each([
    ['empty device_code', { device_code: '' }],
    ['empty user_code', { user_code: '' }],
    ['numeric user_code', { user_code: 1234 }],
    ['zero expires_in', { expires_in: 0 }],
    ['empty verification_uri', { verification_uri: '' }],
    ['relative verification_uri', { verification_uri: '/device' }],
    ['javascript: verification_uri', { verification_uri: 'javascript:alert(1)' }],
    ['data: verification_uri', { verification_uri: 'data:text/html,<script>alert(1)</script>' }],
    ['file: verification_uri', { verification_uri: 'file:///etc/passwd' }],
    ['a user code nobody could type', { user_code: 'W'.repeat(257) }],
    ['a user code with terminal escapes', { user_code: '\x1b]0;pwned\x07\x1b[2JWDJB' }],
    ['a user code with a C1 control character', { user_code: 'WDJB\u009bMJHT' }],
    ['a user code with a right-to-left override', { user_code: 'WDJB-\u202eTHJM' }],
    ['a user code with a line break', { user_code: 'WDJB\nMJHT' }],
    ['a verification URL no QR code could hold', { verification_uri: `https://example.com/${'x'.repeat(2048)}` }],
  ])('fails with OAuthTokenNotFoundError for %s', (_name, override) => {
    expect(thrownBy(() => parseDeviceAuthorizationResponse({ ...rfcExample, ...override })).code).toBe('OAuthTokenNotFoundError');
  });

  it('keeps user codes in any script, with spaces and punctuation', () => {
    for (const code of ['WDJB-MJHT', '123 456', 'БВГД-ЖЗКЛ', 'ｱｲｳｴ', '4F7K.2M9Q']) {
      expect(parseDeviceAuthorizationResponse({ ...rfcExample, user_code: code }).userCode).toBe(code);
    }
  });

  it('treats an unusable verification_uri_complete as absent', () => {
    for (const complete of ['javascript:alert(1)', 'data:,x', 'not a url', 42]) {
      expect(parseDeviceAuthorizationResponse({ ...rfcExample, verification_uri_complete: complete }).completeVerificationUrl).toBeNull();
    }
    const { verification_uri_complete: _c, ...withoutComplete } = rfcExample;
    expect(parseDeviceAuthorizationResponse(withoutComplete).completeVerificationUrl).toBeNull();
  });

  it("keeps only non-standard members as extraTokens, such as Microsoft's message", () => {
    const parsed = parseDeviceAuthorizationResponse({
      ...rfcExample,
      verification_url: 'https://old.example.com',
      message: 'To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code WDJB-MJHT.',
    });
    expect(parsed.extraTokens).toEqual({
      message: 'To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code WDJB-MJHT.',
    });
  });

  it('turns an OAuth error response into a ServerError carrying the server fields', () => {
    const error = thrownBy(() =>
      parseDeviceAuthorizationResponse({ error: 'invalid_client', error_description: 'client authentication failed', error_uri: 'https://example.com/e' }, 401),
    );
    expect(error).toMatchObject({
      code: 'ServerError',
      error: 'invalid_client',
      errorDescription: 'client authentication failed',
      errorUri: 'https://example.com/e',
      status: 401,
    });
    expect(error.message).toBe('The authorization server reported "invalid_client": client authentication failed');
  });

  it('reports expired_token from this endpoint as a ServerError like any other error', () => {
    expect(thrownBy(() => parseDeviceAuthorizationResponse({ error: 'expired_token' })).code).toBe('ServerError');
  });

  it('refuses an error member that is not a non-empty string', () => {
    for (const bad of [42, '', null, { code: 'x' }]) {
      const error = thrownBy(() => parseDeviceAuthorizationResponse({ ...rfcExample, error: bad }));
      expect(error.code).toBe('ServerError');
      expect(error.error).toBeUndefined();
    }
  });
});
