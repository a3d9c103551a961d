import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Command, parseCommand } from '../../src/cli/args.js';
import { EXIT_CODES, outcomeOf } from '../../src/cli/exitCodes.js';
import type { CliIO } from '../../src/cli/login.js';
import { PRESETS, presetEndpoints } from '../../src/cli/presets.js';
import { resolveServer } from '../../src/cli/resolveServer.js';
import { formatDuration, jsonLine, redactToken, terminalSafe, tokenSummary } from '../../src/cli/terminal.js';
import { DeviceFlowError } from '../../src/core/errors.js';
import { LoopbackServer } from '../helpers/loopbackServer.js';

describe('terminal output', () => {
  it('shortens tokens to their first and last four characters, hiding short ones whole', () => {
    expect(redactToken('gho_16C7e42F292c6912E7710c838347Ae178B4a')).toBe('gho_…8B4a');
    expect(redactToken('short-token')).toBe('****');
    expect(redactToken('')).toBe('(none)');
  });

  it('formats countdowns', () => {
    expect([formatDuration(0), formatDuration(999), formatDuration(90_000), formatDuration(3_725_000), formatDuration(-5)]).toEqual([
      '0:00',
      '0:01',
      '1:30',
      '1:02:05',
      '0:00',
    ]);
  });

  const bearer = { accessToken: 'a'.repeat(40), tokenType: 'Bearer', refreshToken: 'r'.repeat(40), idToken: '', idTokenClaims: null, expiresAt: new Date(90_000), scope: ['read'], extraTokens: {} };

  it('summarises a grant without a whole token', () => {
    const summary = tokenSummary(bearer, 0);
    expect(summary).toBe('Signed in.\n  access token   aaaa…aaaa\n  expires        1970-01-01T00:01:30.000Z (in 1:30)\n  refresh token  rrrr…rrrr\n  scope          read\n');
  });

  it('says whom a validated ID token names, from where, until when; and that an unvalidated one was not checked', () => {
    const claims = { iss: 'https://as.example', sub: 'alice\u001b[2J', exp: 3_600 };
    const validated = tokenSummary({ ...bearer, tokenType: 'DPoP', idToken: 'i'.repeat(40), idTokenClaims: claims }, 0);
    expect(validated).toBe(
      [
        'Signed in.',
        '  access token   aaaa…aaaa',
        '  token type     DPoP (bound to the key made for this run)',
        '  expires        1970-01-01T00:01:30.000Z (in 1:30)',
        '  refresh token  rrrr…rrrr',
        '  ID token       iiii…iiii (validated)',
        '    issuer       https://as.example',
        // A server's text cannot act on the terminal.
        '    subject      alice [2J',
        '    expires      1970-01-01T01:00:00.000Z (in 1:00:00)',
        '  scope          read',
        '',
      ].join('\n'),
    );
    expect(tokenSummary({ ...bearer, idToken: 'i'.repeat(40) }, 0)).toContain('  ID token       iiii…iiii (not validated: no issuer known)\n');
  });
});

describe('exit codes', () => {
  it.each([
    [new DeviceFlowError('ServerError', 'x', { error: 'access_denied' }), 'denied'],
    [new DeviceFlowError('ServerError', 'x', { error: 'authorization_declined' }), 'denied'],
    [new DeviceFlowError('ExpiredError', 'x'), 'expired'],
    [new DeviceFlowError('NetworkError', 'x'), 'network'],
    [new DeviceFlowError('ClientError', 'x'), 'configuration'],
    [new DeviceFlowError('ServerError', 'x', { error: 'invalid_client' }), 'configuration'],
    [new DeviceFlowError('ServerError', 'x', { error: 'device_flow_disabled' }), 'configuration'],
    [new DeviceFlowError('ServerError', 'x', { status: 502 }), 'serverError'],
    [new DeviceFlowError('OAuthTokenNotFoundError', 'x'), 'serverError'],
    [new Error('bug'), 'serverError'],
  ] as const)('%s → %s', (error, outcome) => {
    expect(outcomeOf(error)).toBe(outcome);
  });

  it('gives every outcome its own code', () => {
    expect(new Set(Object.values(EXIT_CODES)).size).toBe(Object.keys(EXIT_CODES).length);
  });
});

describe('provider presets', () => {
  it('fill in the Microsoft tenant', () => {
    expect(presetEndpoints(PRESETS.microsoft, undefined).authorizationUrl).toBe('https://login.microsoftonline.com/organizations/oauth2/v2.0/devicecode');
    expect(presetEndpoints(PRESETS.microsoft, 'contoso.onmicrosoft.com').tokenUrl).toBe('https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token');
    expect(presetEndpoints(PRESETS.github, 'ignored').authorizationUrl).toBe('https://github.com/login/device/code');
  });

  it('use https endpoints only', () => {
    for (const preset of Object.values(PRESETS)) {
      expect(new URL(preset.deviceAuthorizationUrl.replace('{tenant}', 't')).protocol).toBe('https:');
      expect(new URL(preset.tokenUrl.replace('{tenant}', 't')).protocol).toBe('https:');
    }
  });
});

describe('--issuer (discovery, tested itself in test/http/discovery.test.ts)', () => {
  const servers: LoopbackServer[] = [];
  afterAll(() => Promise.all(servers.map((server) => server.close())));

  /** A server whose OpenID Connect metadata names `issuerOf(origin)`, with every member the flow takes. */
  async function metadataServer(issuerOf: (origin: string) => string, extra: Record<string, unknown> = {}): Promise<LoopbackServer> {
    const server = await LoopbackServer.start();
    servers.push(server);
    server.handle('/.well-known/openid-configuration', {
      json: {
        issuer: issuerOf(server.url('')),
        device_authorization_endpoint: server.url('/device'),
        token_endpoint: server.url('/token'),
        jwks_uri: server.url('/jwks'),
        revocation_endpoint: server.url('/revoke'),
        id_token_signing_alg_values_supported: ['HS256', 'ES256'],
        ...extra,
      },
    });
    return server;
  }

  async function resolve(args: string[], interrupt = new AbortController().signal): Promise<{ result: Awaited<ReturnType<typeof resolveServer>>; stderr: string }> {
    let stderr = '';
    const io: CliIO = { stdout: { write: () => undefined }, stderr: { write: (text: string) => (stderr += text) }, interrupt };
    const command = parseCommand(['login', ...args, '--client-id', 'cli']) as Extract<Command, { kind: 'login' }>;
    return { result: await resolveServer(command, io), stderr };
  }

  it("puts the issuer, its keys, its revocation endpoint and its algorithms into the flow's options, whether the metadata names the bare origin with a slash or without", async () => {
    for (const issuerOf of [(origin: string) => origin, (origin: string) => `${origin}/`]) {
      const server = await metadataServer(issuerOf);
      const { result, stderr } = await resolve(['--issuer', server.url('')]);
      expect(stderr).toBe('');
      expect(result).toEqual({
        clientIdentifier: 'cli',
        clientIdentifierSharedKey: '',
        allowInsecureHttp: false,
        issuer: issuerOf(server.url('')),
        authorizationUrl: server.url('/device'),
        tokenUrl: server.url('/token'),
        jwksUrl: server.url('/jwks'),
        revocationUrl: server.url('/revoke'),
        idTokenSigningAlgorithms: ['ES256'],
      });
    }
  });

  it('exits 1 for metadata that names another issuer, quoting both', async () => {
    const server = await metadataServer(() => 'https://attacker.example');
    const { result, stderr } = await resolve(['--issuer', server.url('')]);
    expect(result).toBe(EXIT_CODES.serverError);
    expect(stderr).toMatch(/^device-flow: The metadata at http:\/\/127\.0\.0\.1:\d+\/\.well-known\/openid-configuration names the issuer "https:\/\/attacker.example", not http:\/\/127.0.0.1:\d+: /);
  });

  it('exits 2 for a discovered plain-http endpoint beyond this machine, unless --allow-insecure-http', async () => {
    const server = await metadataServer((origin) => origin, { revocation_endpoint: 'http://as.example/revoke' });
    const refused = await resolve(['--issuer', server.url('')]);
    expect(refused.result).toBe(EXIT_CODES.usage);
    expect(refused.stderr).toBe('device-flow: the discovered endpoint http://as.example is not https: device codes, tokens and secrets would travel in clear text; use https, or add --allow-insecure-http\n');
    const allowed = await resolve(['--issuer', server.url(''), '--allow-insecure-http']);
    expect(allowed.result).toMatchObject({ revocationUrl: 'http://as.example/revoke', allowInsecureHttp: true });
  });

  it('exits 3 without a device authorization endpoint, saying what to give instead', async () => {
    const server = await metadataServer((origin) => origin, { device_authorization_endpoint: undefined });
    const { result, stderr } = await resolve(['--issuer', server.url('')]);
    expect(result).toBe(EXIT_CODES.configuration);
    expect(stderr).toBe(`device-flow: The metadata of ${server.url('')} has no device_authorization_endpoint: give --authorization-url and --token-url\n`);
  });

  it('exits 6 when nothing answers, and 130 when interrupted', async () => {
    const gone = await LoopbackServer.start();
    await gone.close();
    const unreachable = await resolve(['--issuer', gone.url('')]);
    expect(unreachable.result).toBe(EXIT_CODES.network);
    expect(unreachable.stderr).toMatch(/^device-flow: Could not read the metadata of .*ECONNREFUSED.*ECONNREFUSED/);

    const stalled = await LoopbackServer.start();
    servers.push(stalled);
    stalled.handle('/.well-known/openid-configuration', () => 'handled');
    const interrupt = new AbortController();
    void stalled.nextRequest('/.well-known/openid-configuration').then(() => interrupt.abort());
    const cancelled = await resolve(['--issuer', stalled.url('')], interrupt.signal);
    expect(cancelled).toEqual({ result: EXIT_CODES.cancelled, stderr: '' });
  });
});

describe('terminalSafe and jsonLine', () => {
  it("keeps the CLI's own bold and clear-line sequences and line breaks, and turns every other control into a space", () => {
    expect(terminalSafe('\x1b[1mcode\x1b[22m\r\x1b[2K\n')).toBe('\x1b[1mcode\x1b[22m\r\x1b[2K\n');
    expect(terminalSafe('a\x1b[31mb\u009b2Jc\u202ed\u2066e\u200ff\u0007')).toBe('a [31mb 2Jc d e f ');
  });

  it('escapes in JSON what JSON.stringify leaves raw, so that the value survives the filter', () => {
    const value = { message: 'x\u009by\u202ez\u2028' };
    const line = jsonLine(value);
    expect(line).toBe('{"message":"x\\u009by\\u202ez\\u2028"}\n');
    expect(terminalSafe(line)).toBe(line);
    expect(JSON.parse(line)).toEqual(value);
  });
});
