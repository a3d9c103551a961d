/**
 * Property: the response parsers, fed arbitrary bodies and members, either return a valid result or throw a
 * DeviceFlowError; never anything else.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeviceFlowError } from '../../src/core/errors.js';
import { parseDeviceAuthorizationResponse } from '../../src/core/protocol/deviceAuthorizationResponse.js';
import { parseResponseBody, type ResponseMembers } from '../../src/core/protocol/responseBody.js';
import { parsePollResponse, parseRefreshResponse } from '../../src/core/protocol/tokenResponse.js';

const RUNS = { numRuns: 300 };

/** Runs `parse`; a thrown value must be a DeviceFlowError with one of `codes`. */
function outcome<T>(parse: () => T, codes: DeviceFlowError['code'][]): T | null {
  try {
    return parse();
  } catch (error) {
    expect(error).toBeInstanceOf(DeviceFlowError);
    expect(codes).toContain((error as DeviceFlowError).code);
    return null;
  }
}

const RELEVANT = [
  'device_code',
  'user_code',
  'verification_uri',
  'verification_url',
  'verification_uri_complete',
  'expires_in',
  'interval',
  'error',
  'error_description',
  'access_token',
  'refresh_token',
  'id_token',
  'scope',
  'token_type',
];

/** Members as servers send them: the names that matter, with any JSON value or plausible string, and noise. */
const members: fc.Arbitrary<ResponseMembers> = fc
  .tuple(
    fc.dictionary(
      fc.constantFrom(...RELEVANT),
      fc.oneof(
        fc.jsonValue(),
        fc.constantFrom('', '5', '-1', '1e12', 'NaN', 'https://example.com/device', 'javascript:alert(1)', 'openid', 'authorization_pending', 'slow_down', 'expired_token'),
        fc.integer(),
        fc.double(),
      ),
    ),
    fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }),
  )
  .map(([relevant, noise]) => ({ ...noise, ...relevant }));

const contentTypes = fc.constantFrom(null, 'application/json', 'application/x-www-form-urlencoded', 'text/plain', 'text/html', 'application/problem+json');

describe('parsers on arbitrary input', () => {
  it('parseResponseBody: an object, or a ServerError', () => {
    const bodies = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.jsonValue().map((value) => new TextEncoder().encode(JSON.stringify(value) ?? '')),
      fc.array(fc.tuple(fc.string(), fc.string()), { maxLength: 6 }).map((pairs) => new TextEncoder().encode(new URLSearchParams(pairs).toString())),
    );
    fc.assert(
      fc.property(bodies, contentTypes, fc.integer({ min: 100, max: 599 }), (body, contentType, status) => {
        const parsed = outcome(() => parseResponseBody(body, contentType, status), ['ServerError']);
        if (parsed !== null) expect(typeof parsed === 'object' && !Array.isArray(parsed)).toBe(true);
      }),
      RUNS,
    );
  });

  it('parseDeviceAuthorizationResponse: a usable authorization, or a typed error', () => {
    fc.assert(
      fc.property(members, (input) => {
        const authorization = outcome(() => parseDeviceAuthorizationResponse(input, 200), ['ServerError', 'OAuthTokenNotFoundError']);
        if (authorization === null) return;
        expect(authorization.deviceCode).not.toBe('');
        expect(authorization.userCode.length).toBeGreaterThan(0);
        expect(new URL(authorization.verificationUrl).protocol).toMatch(/^https?:$/);
        if (authorization.completeVerificationUrl !== null) expect(new URL(authorization.completeVerificationUrl).protocol).toMatch(/^https?:$/);
        expect(authorization.expiresIn).toBeGreaterThan(0);
        expect(authorization.expiresIn).toBeLessThanOrEqual(86_400);
        expect(authorization.interval).toBeGreaterThanOrEqual(1);
        expect(authorization.interval).toBeLessThanOrEqual(86_400);
        for (const name of Object.keys(authorization.extraTokens)) expect(RELEVANT.slice(0, 7)).not.toContain(name);
      }),
      RUNS,
    );
  });

  it('parsePollResponse and parseRefreshResponse: tokens or a polling instruction, or a typed error', () => {
    const scope = fc.array(fc.constantFrom('openid', 'read', 'write'), { maxLength: 3 });
    fc.assert(
      fc.property(members, scope, (input, requestedScopeTokens) => {
        const poll = outcome(() => parsePollResponse(input, { requestedScopeTokens }, 400), ['ServerError', 'ExpiredError', 'OAuthTokenNotFoundError']);
        const refreshed = outcome(() => parseRefreshResponse(input, { requestedScopeTokens }, 400), ['ServerError', 'ExpiredError', 'OAuthTokenNotFoundError']);
        for (const tokens of [poll?.kind === 'granted' ? poll.tokens : null, refreshed]) {
          if (tokens === null) continue;
          expect(tokens.accessToken).not.toBe('');
          expect(tokens.expiresIn === null || (tokens.expiresIn > 0 && Number.isFinite(tokens.expiresIn))).toBe(true);
          expect(tokens.grantedScopeTokens.every((token) => token !== '' && !token.includes(' '))).toBe(true);
        }
        if (poll?.kind === 'slowDown' && poll.interval !== null) expect(poll.interval).toBeGreaterThanOrEqual(1);
        if (poll?.kind === 'granted' && poll.tokens.grantedScopeTokens.includes('openid')) expect(poll.tokens.idToken).not.toBe('');
      }),
      RUNS,
    );
  });
});
