/**
 * idTokenClaimsProblem: the checks of an ID token's claims that jose leaves to the client (OpenID Connect Core
 * §3.1.3.7 rules 4, 5 and 11, and §12.2 for a refreshed token), on claims as jose hands them over once verified.
 */
import { describe, expect, it } from 'vitest';
import { idTokenClaimsProblem, type IdTokenExpectations } from '../../src/core/protocol/idToken.js';

const CLIENT = 'tv-app';
const grant = (overrides: Partial<IdTokenExpectations> = {}): IdTokenExpectations => ({ clientIdentifier: CLIENT, nonce: null, previousClaims: null, ...overrides });
const claims = (overrides: Record<string, unknown> = {}) => ({ iss: 'https://as.example', sub: 'user-1', aud: CLIENT, exp: 2_000_000_000, iat: 1_900_000_000, ...overrides });

describe('at the grant', () => {
  it('accepts a token for this client alone, with or without azp, with one audience as a string or a list', () => {
    expect(idTokenClaimsProblem(claims(), grant())).toBeNull();
    expect(idTokenClaimsProblem(claims({ aud: [CLIENT] }), grant())).toBeNull();
    expect(idTokenClaimsProblem(claims({ azp: CLIENT }), grant())).toBeNull();
  });

  it('asks for azp naming this client when there are several audiences', () => {
    expect(idTokenClaimsProblem(claims({ aud: [CLIENT, 'api'] }), grant())).toBe('has several audiences but no azp naming this client');
    expect(idTokenClaimsProblem(claims({ aud: [CLIENT, 'api'], azp: CLIENT }), grant())).toBeNull();
    expect(idTokenClaimsProblem(claims({ aud: [CLIENT, 'api'], azp: 'api' }), grant())).toBe("has an azp that is not this client's identifier");
    // An azp must name this client even with one audience.
    expect(idTokenClaimsProblem(claims({ azp: 'another-app' }), grant())).toBe("has an azp that is not this client's identifier");
  });

  it.each([[undefined], [''], [42], [null], [{ id: 'x' }]])('refuses sub %j', (sub) => {
    expect(idTokenClaimsProblem(claims({ sub }), grant())).toBe('has no sub');
  });

  it('takes a nonce that matches the one sent, or none echoed (RFC 8628 defines no nonce; oidc-provider echoes none)', () => {
    expect(idTokenClaimsProblem(claims({ nonce: 'n-0S6_WzA2Mj' }), grant({ nonce: 'n-0S6_WzA2Mj' }))).toBeNull();
    expect(idTokenClaimsProblem(claims(), grant({ nonce: 'n-0S6_WzA2Mj' }))).toBeNull();
  });

  it('refuses another nonce than the one sent, and a nonce when none was sent', () => {
    expect(idTokenClaimsProblem(claims({ nonce: 'forged' }), grant({ nonce: 'n-0S6_WzA2Mj' }))).toBe('has a nonce that is not the one sent');
    expect(idTokenClaimsProblem(claims({ nonce: 42 }), grant({ nonce: '42' }))).toBe('has a nonce that is not the one sent');
    expect(idTokenClaimsProblem(claims({ nonce: 'replayed' }), grant())).toBe('has a nonce, but none was sent');
  });
});

describe('at a refresh (OpenID Connect Core §12.2)', () => {
  const previous = claims({ auth_time: 1_899_000_000, nonce: 'original' });
  const refresh = (overrides: Partial<IdTokenExpectations> = {}) => grant({ previousClaims: previous, ...overrides });

  it('accepts a token about the same user, from the same issuer, for the same client', () => {
    expect(idTokenClaimsProblem(claims({ iat: 1_950_000_000 }), refresh())).toBeNull();
    expect(idTokenClaimsProblem(claims({ auth_time: 1_899_000_000, nonce: 'original' }), refresh())).toBeNull();
    // The audiences compare as sets.
    const several = grant({ previousClaims: claims({ aud: [CLIENT, 'api'], azp: CLIENT }) });
    expect(idTokenClaimsProblem(claims({ aud: ['api', CLIENT], azp: CLIENT }), several)).toBeNull();
    expect(idTokenClaimsProblem(claims({ aud: [CLIENT] }), refresh())).toBeNull();
  });

  it.each([
    ['iss', 'https://evil.example', 'has another iss than the ID token it replaces'],
    ['sub', 'user-2', 'has another sub than the ID token it replaces'],
    ['aud', [CLIENT, 'api'], 'has several audiences but no azp naming this client'],
    ['auth_time', 1_950_000_000, 'has another auth_time than the ID token it replaces'],
    ['nonce', 'fresh', 'has another nonce than the ID token it replaces'],
  ])('refuses another %s', (claim, value, problem) => {
    expect(idTokenClaimsProblem(claims({ [claim]: value }), refresh())).toBe(problem);
  });

  it('refuses other audiences, even with azp', () => {
    expect(idTokenClaimsProblem(claims({ aud: [CLIENT, 'api'], azp: CLIENT }), refresh())).toBe('has other audiences than the ID token it replaces');
  });

  it('does not compare with the nonce sent at the grant: the original token carries it', () => {
    expect(idTokenClaimsProblem(claims({ nonce: 'original' }), refresh({ nonce: 'sent-at-the-grant' }))).toBeNull();
  });

  it('never quotes a claim the server chose', () => {
    const marker = 'SERVER-CHOSEN-VALUE-0123456789';
    const cases = [
      idTokenClaimsProblem(claims({ sub: `${marker}-sub` }), refresh()),
      idTokenClaimsProblem(claims({ iss: `https://${marker}.example` }), refresh()),
      idTokenClaimsProblem(claims({ azp: marker }), grant()),
      idTokenClaimsProblem(claims({ nonce: marker }), grant({ nonce: 'sent' })),
      idTokenClaimsProblem(claims({ aud: [CLIENT, marker], azp: CLIENT }), refresh()),
    ];
    for (const problem of cases) {
      expect(problem).not.toBeNull();
      expect(problem).not.toContain(marker);
    }
  });
});
