/**
 * `device-flow` as a credential helper, end to end: real CLI processes against the development server. `login` saves
 * a profile; `token` prints a valid access token and nothing else, refreshing under the profile's lock when needed;
 * `status`, `refresh`, `logout` and `profiles`. A forwarding proxy on 127.0.0.1 counts the refresh requests that
 * reach the token endpoint. Every run keeps its profiles in files under a temporary XDG_CONFIG_HOME (test/helpers/cli.ts).
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devServer/server.js';
import { actAsUser } from '../../src/devServer/simulatedUser.js';
import { CLI, documentedJson, documentedProfiles, documentedStatus, isolatedConfigHome, runCli, startCli } from '../helpers/cli.js';
import { LoopbackServer } from '../helpers/loopbackServer.js';

/** Access tokens live 10 minutes: fresh unless a test ages them. */
const LIFETIME = 600;

let server: DevServer;
beforeAll(async () => {
  server = await startDevServer({ interval: 1, accessTokenLifetime: LIFETIME });
});
afterAll(async () => {
  await server.close();
});

/** A forwarding proxy in front of `upstream` that counts the refresh requests reaching its token endpoint. */
interface CountingProxy {
  origin: string;
  /** Refresh requests that reached the server. */
  refreshes: number;
  /** Those the server answered with new tokens. */
  rotations: number;
  /** Holds the next refresh request until `release()`; `arrived` resolves when it reaches the proxy. */
  holdNextRefresh(): { arrived: Promise<void>; release: () => void };
}

/** Started for one test, and closed when it finishes (`onTestFinished` of that test's context: tests run concurrently). */
async function startCountingProxy(upstream: string, { onTestFinished }: TestContext): Promise<CountingProxy> {
  const target = new URL(upstream);
  let hold: { arrived: () => void; released: Promise<void> } | null = null;
  const counts: CountingProxy = {
    origin: '',
    refreshes: 0,
    rotations: 0,
    holdNextRefresh() {
      let arrived!: () => void;
      let release!: () => void;
      const arrival = new Promise<void>((resolve) => (arrived = resolve));
      hold = { arrived, released: new Promise<void>((resolve) => (release = resolve)) };
      return { arrived: arrival, release };
    },
  };
  const proxy = createServer(async (incoming, outgoing) => {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const refresh = incoming.url === '/token' && new URLSearchParams(body.toString('utf8')).get('grant_type') === 'refresh_token';
    if (refresh) counts.refreshes++;
    if (refresh && hold !== null) {
      const { arrived, released } = hold;
      hold = null;
      arrived();
      await released;
    }
    const answer = await new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const forwarded = request(
        { host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: { ...incoming.headers, host: target.host, 'content-length': String(body.length) } },
        (response) => {
          const parts: Buffer[] = [];
          response.on('data', (part: Buffer) => parts.push(part));
          response.on('end', () => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: Buffer.concat(parts) }));
        },
      );
      forwarded.on('error', reject);
      forwarded.end(body);
    });
    if (refresh && answer.status === 200) counts.rotations++;
    const { 'transfer-encoding': _chunked, connection: _connection, ...headers } = answer.headers;
    outgoing.writeHead(answer.status, headers);
    outgoing.end(answer.body);
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  counts.origin = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  onTestFinished(async () => {
    proxy.closeAllConnections();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
  });
  return counts;
}

/** Runs the CLI with profiles in `config`. */
function cli(config: string, args: string[], env: Record<string, string> = {}) {
  return runCli(args, { env: { XDG_CONFIG_HOME: config, ...env } });
}

/** `device-flow login … --json`, approved on `on`'s pages once the code is out; expects exit 0. */
async function login(config: string, args: string[], { env = {}, on = server }: { env?: Record<string, string>; on?: DevServer } = {}) {
  const run = startCli(['login', ...args, '--no-qr', '--json'], { env: { XDG_CONFIG_HOME: config, ...env } });
  const [, userCode] = await run.stderrMatching(/and enter the code (\S+)/);
  await on.approve(userCode!);
  const result = await run.done;
  expect(result.code, result.stderr).toBe(0);
  return { ...result, tokens: documentedJson(result.stdout) };
}

/** The login arguments of the public client at the dev server, found by its issuer, saving profile `name`. */
const atIssuer = (name: string, on: DevServer = server) => ['--issuer', on.issuer, '--client-id', 'device-flow-demo', '--profile', name];

/** The same client through `proxy`, by its endpoints (the proxy is no issuer), saving profile `name`. */
const throughProxy = (proxy: CountingProxy, name: string) => [
  '--authorization-url',
  `${proxy.origin}/device/auth`,
  '--token-url',
  `${proxy.origin}/token`,
  '--client-id',
  'device-flow-demo',
  '--scope',
  'openid offline_access',
  '--profile',
  name,
];

const profilesIn = (config: string) => join(config, 'device-flow', 'profiles');
const profileFile = (config: string, name: string) => join(profilesIn(config), `${name}.json`);

async function readProfile(config: string, name: string): Promise<Record<string, any>> {
  return JSON.parse(await readFile(profileFile(config, name), 'utf8')) as Record<string, any>;
}

const propertiesIn = (record: Record<string, any>) => record.snapshot.state.context.properties as Record<string, any>;

/** Time passes for profile `name`: its access token's expiry, as saved, moves a second into the past. */
async function age(config: string, name: string): Promise<void> {
  const record = await readProfile(config, name);
  propertiesIn(record).expirationAt = Date.now() - 1_000;
  await writeFile(profileFile(config, name), JSON.stringify(record));
}

/** Revokes `refreshToken` at the server, as a user signing out elsewhere would (and with it the grant). */
async function revokeAtServer(refreshToken: string): Promise<void> {
  const response = await fetch(server.revocationUrl, {
    method: 'POST',
    body: new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token', client_id: 'device-flow-demo' }),
  });
  expect(response.status).toBe(200);
}

/** Every file under `directory`, recursively. */
async function filesUnder(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe.concurrent('device-flow login --profile, then token', { timeout: 60_000 }, () => {
  it('saves the session in a 0600 file in 0700 directories; token prints exactly the access token, active at the server, without a refresh while it is fresh', async () => {
    const config = isolatedConfigHome();
    const { tokens, stderr } = await login(config, atIssuer('demo'));
    const file = profileFile(config, 'demo');
    expect(stderr).toContain(`Saved as profile demo in ${file} (readable by you only); device-flow token --profile demo prints its access token.\n`);
    expect(await mode(file)).toBe(0o600);
    expect(await mode(profilesIn(config))).toBe(0o700);
    expect(await mode(join(config, 'device-flow'))).toBe(0o700);
    const record = await readProfile(config, 'demo');
    expect(record).toMatchObject({ format: 'device-flow-profile', version: 1, snapshot: { format: 'oauth2-device-flow' }, login: ['--issuer', server.issuer, '--client-id', 'device-flow-demo'] });
    expect(record.clientSecret).toBeUndefined();
    // Without --scope, a profile from an issuer asks for a refresh token and for whom it signs in.
    expect(tokens.scope).toEqual(expect.arrayContaining(['openid', 'offline_access']));
    expect(tokens.refreshToken).toEqual(expect.any(String));

    const before = await readFile(file, 'utf8');
    const { code, stdout, stderr: quiet } = await cli(config, ['token', '--profile', 'demo']);
    expect(code, quiet).toBe(0);
    expect(stdout).toBe(`${tokens.accessToken}\n`);
    expect(quiet).toBe('');
    expect(await server.introspect(tokens.accessToken)).toMatchObject({ active: true, client_id: 'device-flow-demo', sub: 'demo-user' });
    // Nothing was refreshed, so nothing was saved.
    expect(await readFile(file, 'utf8')).toBe(before);
  });

  it('refreshes a stale token once, saves the rotated refresh token, and the next token works with it; --min-validity asks for more time left', async (context) => {
    const config = isolatedConfigHome();
    const proxy = await startCountingProxy(server.issuer, context);
    const { tokens } = await login(config, throughProxy(proxy, 'stale'));

    await age(config, 'stale');
    const first = await cli(config, ['token', '--profile', 'stale']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toBe('');
    const refreshed = first.stdout.trim();
    expect(first.stdout).toBe(`${refreshed}\n`);
    expect(refreshed).not.toBe(tokens.accessToken);
    expect(proxy.refreshes).toBe(1);
    expect(await server.introspect(refreshed)).toMatchObject({ active: true });
    const rotated = propertiesIn(await readProfile(config, 'stale'));
    expect(rotated.token).toBe(refreshed);
    expect(rotated.refreshToken).not.toBe(tokens.refreshToken);
    expect(await server.introspect(tokens.refreshToken)).toEqual({ active: false });

    await age(config, 'stale');
    const second = await cli(config, ['token', '--profile', 'stale']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout.trim()).not.toBe(refreshed);
    expect(proxy.refreshes).toBe(2);
    expect(await server.introspect(second.stdout.trim())).toMatchObject({ active: true });

    // Ten minutes left: enough for 300 s, not for 900 s (one refresh, whose token lives ten minutes too).
    const enough = await cli(config, ['token', '--profile', 'stale', '--min-validity', '300']);
    expect([enough.code, enough.stdout, proxy.refreshes]).toEqual([0, second.stdout, 2]);
    const more = await cli(config, ['token', '--profile', 'stale', '--min-validity', '900']);
    expect(more.code, more.stderr).toBe(0);
    expect(more.stdout).not.toBe(second.stdout);
    expect(proxy.refreshes).toBe(3);
  });

  it('two token commands started together on a stale profile: one refresh reaches the server, and both print its token', async (context) => {
    const config = isolatedConfigHome();
    const proxy = await startCountingProxy(server.issuer, context);
    await login(config, throughProxy(proxy, 'race'));
    for (let round = 1; round <= 3; round++) {
      await age(config, 'race');
      const [a, b] = await Promise.all([cli(config, ['token', '--profile', 'race']), cli(config, ['token', '--profile', 'race'])]);
      expect([a.code, b.code], `${a.stderr}${b.stderr}`).toEqual([0, 0]);
      expect(a.stdout).toBe(b.stdout);
      expect(proxy.refreshes).toBe(round);
      expect(await server.introspect(a.stdout.trim())).toMatchObject({ active: true });
      expect(existsSync(join(profilesIn(config), 'race.lock'))).toBe(false);
    }
  });

  it('a token command that starts while another one refreshes sends no refresh of its own, waits, and prints the new token', async (context) => {
    const config = isolatedConfigHome();
    const proxy = await startCountingProxy(server.issuer, context);
    await login(config, throughProxy(proxy, 'inflight'));
    await age(config, 'inflight');
    const { arrived, release } = proxy.holdNextRefresh();
    const first = cli(config, ['token', '--profile', 'inflight']);
    await arrived;
    // The second one reads the profile while the first one's refresh is in flight, then waits for the lock.
    const second = startCli(['token', '--profile', 'inflight'], {
      env: { XDG_CONFIG_HOME: config },
      command: [process.execPath, '--import', pathToFileURL(join(import.meta.dirname, '../helpers/sayWhenLockHeld.mjs')).href, CLI],
    });
    await second.stderrMatching(/waiting for the lock/);
    release();
    const [a, b] = await Promise.all([first, second.done]);
    expect([a.code, b.code], `${a.stderr}${b.stderr}`).toEqual([0, 0]);
    expect(b.stdout).toBe(a.stdout);
    expect(proxy.refreshes).toBe(1);
    expect(await server.introspect(a.stdout.trim())).toMatchObject({ active: true });
  });

  it('a refreshed session that cannot be saved (a file size limit the profile exceeds): token still prints the token, refresh says so, exit 7', async () => {
    const config = isolatedConfigHome();
    await login(config, atIssuer('full'));
    // `ulimit -f 1`: files up to 1 KiB, enough for the lock file, not for the profile.
    const limited = { env: { XDG_CONFIG_HOME: config }, command: ['bash', '-c', 'ulimit -f 1 && exec "$0" "$@"', process.execPath, CLI] };
    const before = await readFile(profileFile(config, 'full'), 'utf8');
    await age(config, 'full');
    const aged = await readFile(profileFile(config, 'full'), 'utf8');
    const token = await runCli(['token', '--profile', 'full'], limited);
    expect(token.code, token.stderr).toBe(7);
    expect(await server.introspect(token.stdout.trim())).toMatchObject({ active: true });
    expect(token.stdout).not.toContain(propertiesIn(JSON.parse(before)).token);
    expect(token.stderr).toMatch(/^device-flow: the token was refreshed, but profile full could not be saved \(.*EFBIG.*\): the next command may need a new sign-in\n$/);
    // Nothing half-written: the profile is as it was.
    expect(await readFile(profileFile(config, 'full'), 'utf8')).toBe(aged);
    expect(existsSync(join(profilesIn(config), 'full.lock'))).toBe(false);
    // As it said: the profile's refresh token was spent by the refresh whose tokens could not be kept.
    expect((await cli(config, ['token', '--profile', 'full'])).code).toBe(9);

    await login(config, atIssuer('full'));
    const signedIn = await readFile(profileFile(config, 'full'), 'utf8');
    const refresh = await runCli(['refresh', '--profile', 'full'], limited);
    expect(refresh.code, refresh.stderr).toBe(7);
    expect(refresh.stdout).toBe('');
    expect(refresh.stderr).toMatch(/^device-flow: the token was refreshed, but profile full could not be saved \(.*EFBIG.*\): the next command may need a new sign-in\n$/);
    expect(await readFile(profileFile(config, 'full'), 'utf8')).toBe(signedIn);
  });

  it('a refresh token the server refused: exit 9 and one line naming the login command; the profile is then signed out', async () => {
    const config = isolatedConfigHome();
    const { tokens } = await login(config, atIssuer('refused'));
    await revokeAtServer(tokens.refreshToken);
    await age(config, 'refused');
    const hint = `device-flow login --issuer ${server.issuer} --client-id device-flow-demo --profile refused`;
    const { code, stdout, stderr } = await cli(config, ['token', '--profile', 'refused']);
    expect(code).toBe(9);
    expect(stdout).toBe('');
    expect(stderr).toBe(`device-flow: profile refused needs a new sign-in: the server refused its refresh token (expired, revoked, or already used); run ${hint}\n`);
    expect(propertiesIn(await readProfile(config, 'refused'))).toMatchObject({ token: '', refreshToken: '' });
    const again = await cli(config, ['token', '--profile', 'refused']);
    expect([again.code, again.stderr]).toEqual([9, `device-flow: profile refused is not signed in: run ${hint}\n`]);
    const status = await cli(config, ['status', '--profile', 'refused', '--json']);
    expect(status.code).toBe(9);
    expect(documentedStatus(status.stdout)).toMatchObject({ signedIn: false, hasAccessToken: false, hasRefreshToken: false });
  });

  it('a confidential client: its secret is kept in the profile (mode 0600) and a later token refreshes with it', async () => {
    const config = isolatedConfigHome();
    const { clientSecret } = server.clients.secretPost;
    const { tokens } = await login(config, ['--issuer', server.issuer, '--client-id', 'device-flow-post', '--profile', 'conf'], { env: { DEVICE_FLOW_CLIENT_SECRET: clientSecret } });
    const record = await readProfile(config, 'conf');
    expect(record.clientSecret).toBe(clientSecret);
    expect(record.login).not.toContain(clientSecret);
    expect(await mode(profileFile(config, 'conf'))).toBe(0o600);
    await age(config, 'conf');
    // No secret in this process's environment or arguments: the profile's own.
    const { code, stdout, stderr } = await cli(config, ['token', '--profile', 'conf']);
    expect(code, stderr).toBe(0);
    expect(stdout.trim()).not.toBe(tokens.accessToken);
    expect(await server.introspect(stdout.trim())).toMatchObject({ active: true, client_id: 'device-flow-post' });
    const status = await cli(config, ['status', '--profile', 'conf']);
    expect(status.stdout).toContain('client         device-flow-post (confidential: its secret is kept too)');
    expect(status.stdout + status.stderr).not.toContain(clientSecret);
  });

  it('with --dpop the key is kept with the profile: token prints the DPoP-bound token, and a refresh proves the same key', async () => {
    const config = isolatedConfigHome();
    const { tokens } = await login(config, [...atIssuer('bound'), '--dpop']);
    expect(tokens.tokenType).toBe('DPoP');
    const record = await readProfile(config, 'bound');
    expect(record.snapshot.dpopKey).toMatchObject({ algorithm: 'ES256', privateJwk: { kty: 'EC', d: expect.any(String) } });
    const { jkt } = ((await server.introspect(tokens.accessToken)) as { cnf: { jkt: string } }).cnf;
    await age(config, 'bound');
    const { code, stdout, stderr } = await cli(config, ['token', '--profile', 'bound']);
    expect(code, stderr).toBe(0);
    expect(await server.introspect(stdout.trim())).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt } });
  });
});

describe.concurrent('status, refresh, logout, profiles', { timeout: 60_000 }, () => {
  it('status shows issuer, client, subject, scope, token type and lifetimes, as text and as documented JSON, and never a token', async () => {
    const config = isolatedConfigHome();
    const { tokens } = await login(config, atIssuer('shown'));
    const text = await cli(config, ['status', '--profile', 'shown']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(
      new RegExp(
        [
          '^Profile shown: signed in',
          `  store          file ${profileFile(config, 'shown')}`,
          `  issuer         ${server.issuer}`,
          '  client         device-flow-demo',
          '  subject        demo-user',
          '  scope          (openid offline_access|offline_access openid)',
          '  token type     Bearer',
          '  access token   valid for (10:00|9:5\\d) \\(until \\S+Z\\)',
          '  refresh token  present \\(lifetime unknown\\)',
          '$',
        ].join('\n'),
      ),
    );
    const json = await cli(config, ['status', '--profile', 'shown', '--json']);
    expect(json.code).toBe(0);
    const status = documentedStatus(json.stdout);
    expect(status).toMatchObject({
      profile: 'shown',
      store: 'file',
      location: profileFile(config, 'shown'),
      signedIn: true,
      issuer: server.issuer,
      tokenUrl: server.tokenUrl,
      clientId: 'device-flow-demo',
      confidential: false,
      subject: 'demo-user',
      tokenType: 'Bearer',
      hasAccessToken: true,
      accessTokenExpiresAt: tokens.expiresAt,
      hasRefreshToken: true,
      refreshTokenExpiresAt: null,
      pendingSignIn: null,
    });
    expect(status.accessTokenExpiresIn).toBeGreaterThan(LIFETIME - 30);
    for (const token of [tokens.accessToken, tokens.refreshToken, tokens.idToken]) {
      for (const output of [text.stdout, text.stderr, json.stdout, json.stderr]) expect(output).not.toContain(token);
    }

    // An expired token is said to be expired, and to be refreshed by the next token command.
    await age(config, 'shown');
    const stale = await cli(config, ['status', '--profile', 'shown']);
    expect(stale.stdout).toMatch(/^ {2}access token {3}expired 0:0\d ago \(at \S+Z\); the next token command refreshes it$/m);
  });

  it("status gives the refresh token's lifetime when the server said it (Keycloak's refresh_expires_in)", async (context) => {
    const keycloak = await LoopbackServer.start();
    context.onTestFinished(() => keycloak.close());
    keycloak.handle('/device', { json: { device_code: 'dc', user_code: 'KEYC-LOAK', verification_uri: 'http://127.0.0.1/device', expires_in: 600, interval: 1 } });
    keycloak.handle('/token', { json: { access_token: 'a'.repeat(40), token_type: 'Bearer', expires_in: 300, refresh_token: 'r'.repeat(40), refresh_expires_in: 1800, scope: 'profile' } });
    const config = isolatedConfigHome();
    const run = await cli(config, ['login', '--authorization-url', keycloak.url('/device'), '--token-url', keycloak.url('/token'), '--client-id', 'kc', '--profile', 'kc', '--no-qr']);
    expect(run.code, run.stderr).toBe(0);
    const status = documentedStatus((await cli(config, ['status', '--profile', 'kc', '--json'])).stdout);
    expect(Date.parse(status.refreshTokenExpiresAt) - Date.now()).toBeGreaterThan(1_700_000);
    expect(Date.parse(status.refreshTokenExpiresAt) - Date.now()).toBeLessThanOrEqual(1_800_000);
    expect(status).toMatchObject({ issuer: null, tokenUrl: keycloak.url('/token'), subject: null, scope: ['profile'] });
    const text = await cli(config, ['status', '--profile', 'kc']);
    expect(text.stdout).toMatch(/^ {2}refresh token {2}present, expires in (30:00|29:5\d) \(at \S+Z\)$/m);
    expect(text.stdout).toContain(`  token endpoint ${keycloak.url('/token')}\n`);
    expect(text.stdout).not.toContain('a'.repeat(40));
  });

  it('refresh refreshes now, fresh or not, and saves: the next token prints the new token without another refresh', async (context) => {
    const config = isolatedConfigHome();
    const proxy = await startCountingProxy(server.issuer, context);
    const { tokens } = await login(config, throughProxy(proxy, 'forced'));
    const { code, stdout, stderr } = await cli(config, ['refresh', '--profile', 'forced']);
    expect(code, stderr).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^Refreshed profile forced: the new access token is valid for (10:00|9:5\d) \(until \S+Z\)\.\n$/);
    expect(proxy.refreshes).toBe(1);
    const token = await cli(config, ['token', '--profile', 'forced']);
    expect(token.stdout.trim()).not.toBe(tokens.accessToken);
    expect(token.stdout.trim()).toBe(propertiesIn(await readProfile(config, 'forced')).token);
    expect(proxy.refreshes).toBe(1);
    expect(await server.introspect(token.stdout.trim())).toMatchObject({ active: true });
  });

  it('logout revokes the tokens (the server then calls them inactive) and deletes the profile; a second logout finds none', async () => {
    const config = isolatedConfigHome();
    const { tokens } = await login(config, atIssuer('out'));
    const { code, stdout, stderr } = await cli(config, ['logout', '--profile', 'out']);
    expect([code, stdout, stderr]).toEqual([0, '', 'Signed out: revoked the tokens of profile out and deleted it.\n']);
    expect(await server.introspect(tokens.accessToken)).toEqual({ active: false });
    expect(await server.introspect(tokens.refreshToken)).toEqual({ active: false });
    expect(await filesUnder(profilesIn(config))).toEqual([]);
    const token = await cli(config, ['token', '--profile', 'out']);
    expect([token.code, token.stderr]).toEqual([9, 'device-flow: no profile named out: sign in with device-flow login --issuer URL --client-id ID --profile out (device-flow profiles lists them)\n']);
    expect((await cli(config, ['logout', '--profile', 'out'])).code).toBe(9);
  });

  it('logout with the server gone deletes the profile all the same, exit 0, with a one-line warning', async () => {
    const gone = await startDevServer({ interval: 1 });
    const config = isolatedConfigHome();
    await login(config, atIssuer('offline', gone), { on: gone });
    await gone.close();
    const { code, stdout, stderr } = await cli(config, ['logout', '--profile', 'offline']);
    expect(code).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^device-flow: deleted profile offline, but could not revoke its tokens at the server \([^\n]*ECONNREFUSED[^\n]*\): they stay valid there until they expire\n$/);
    expect(await filesUnder(profilesIn(config))).toEqual([]);
  });

  it('profiles lists every profile with its store, server, client and whether it is signed in, as text and as documented JSON', async () => {
    const config = isolatedConfigHome();
    const none = await cli(config, ['profiles']);
    expect([none.code, none.stdout, none.stderr]).toEqual([0, '', 'No profiles yet: sign in with device-flow login --issuer URL --client-id ID [--profile NAME]\n']);
    const { tokens } = await login(config, atIssuer('alpha'));
    await login(config, atIssuer('beta'));
    await revokeAtServer(tokens.refreshToken);
    await age(config, 'alpha');
    expect((await cli(config, ['token', '--profile', 'alpha'])).code).toBe(9);
    await writeFile(profileFile(config, 'gamma'), 'not JSON', { mode: 0o600 });
    // What is not a profile is left out: another file, a name that cannot be one.
    await writeFile(join(profilesIn(config), 'notes.txt'), '');
    await writeFile(join(profilesIn(config), '.hidden.json'), '{}');

    const json = await cli(config, ['profiles', '--json']);
    expect(json.code).toBe(0);
    expect(documentedProfiles(json.stdout).profiles).toEqual([
      { name: 'alpha', store: 'file', issuer: server.issuer, tokenUrl: server.tokenUrl, clientId: 'device-flow-demo', signedIn: false },
      { name: 'beta', store: 'file', issuer: server.issuer, tokenUrl: server.tokenUrl, clientId: 'device-flow-demo', signedIn: true },
      { name: 'gamma', store: 'file', issuer: null, tokenUrl: null, clientId: null, signedIn: false, error: `profile gamma in ${profileFile(config, 'gamma')} cannot be read: it is not JSON` },
    ]);
    const text = await cli(config, ['profiles']);
    expect(text.stdout.split('\n')).toEqual([
      'NAME   STORE  SIGNED IN   CLIENT            SERVER',
      `alpha  file   no          device-flow-demo  ${server.issuer}`,
      `beta   file   yes         device-flow-demo  ${server.issuer}`,
      'gamma  file   unreadable  -                 -',
      '',
    ]);
  });
});

describe.concurrent('what login keeps, and where', { timeout: 60_000 }, () => {
  it('--store none, or DEVICE_FLOW_STORE=none, saves nothing', async () => {
    for (const [args, env] of [
      [['--store', 'none'], {}],
      [[], { DEVICE_FLOW_STORE: 'none' }],
    ] as const) {
      const config = isolatedConfigHome();
      const { stderr } = await login(config, ['--issuer', server.issuer, '--client-id', 'device-flow-demo', '--scope', 'openid', ...args], { env });
      expect(stderr).not.toContain('Saved as profile');
      expect(await filesUnder(config)).toEqual([]);
    }
  });

  it('a re-login that is declined leaves the signed-in profile as it was (token works meanwhile); a first one leaves no profile, and status shows its code while it waits', async () => {
    const config = isolatedConfigHome();
    const { tokens } = await login(config, atIssuer('kept'));
    const before = await readFile(profileFile(config, 'kept'), 'utf8');
    const again = startCli(['login', ...atIssuer('kept'), '--no-qr'], { env: { XDG_CONFIG_HOME: config } });
    const [, userCode] = await again.stderrMatching(/and enter the code (\S+)/);
    const meanwhile = await cli(config, ['token', '--profile', 'kept']);
    expect([meanwhile.code, meanwhile.stdout]).toEqual([0, `${tokens.accessToken}\n`]);
    await server.deny(userCode!);
    expect((await again.done).code).toBe(4);
    expect(await readFile(profileFile(config, 'kept'), 'utf8')).toBe(before);

    const first = startCli(['login', ...atIssuer('new'), '--no-qr'], { env: { XDG_CONFIG_HOME: config } });
    const [, code] = await first.stderrMatching(/and enter the code (\S+)/);
    const pending = await cli(config, ['status', '--profile', 'new', '--json']);
    expect(pending.code).toBe(9);
    expect(documentedStatus(pending.stdout)).toMatchObject({ signedIn: false, pendingSignIn: { userCode: code, verificationUrl: `${server.issuer}/device` } });
    await server.deny(code!);
    expect((await first.done).code).toBe(4);
    expect(existsSync(profileFile(config, 'new'))).toBe(false);
  });

  it('a corrupt profile: one line naming the fix, exit 9, no stack trace, and the file left as it is', async () => {
    const config = isolatedConfigHome();
    await login(config, atIssuer('good'));
    const good = await readProfile(config, 'good');
    const corruptions: [string, string, string][] = [
      ['text', 'not JSON {', 'it is not JSON'],
      ['other', JSON.stringify({ format: 'something-else' }), 'it is not a device-flow-profile record'],
      ['future', JSON.stringify({ ...good, version: 2 }), 'it has version 2, and this release reads version 1'],
      ['snapshot', JSON.stringify({ ...good, snapshot: { ...good.snapshot, version: 99 } }), 'its session cannot be resumed: The snapshot has schema version 99, but this release of oauth2-device-flow reads version 2'],
      ['state', JSON.stringify({ ...good, snapshot: { ...good.snapshot, state: { ...good.snapshot.state, context: { properties: { token: 7 } } } } }), 'its session cannot be resumed: The snapshot cannot be resumed: '],
    ];
    for (const [name, content, why] of corruptions) {
      const file = profileFile(config, name);
      await writeFile(file, content, { mode: 0o600 });
      const runs = await Promise.all(['token', 'status', 'refresh'].map((command) => cli(config, [command, '--profile', name])));
      for (const { code, stdout, stderr } of runs) {
        expect(code, stderr).toBe(9);
        expect(stdout).toBe('');
        expect(stderr.split('\n')).toHaveLength(2);
        expect(stderr).toContain(`device-flow: profile ${name} in ${file} cannot be read: ${why}`);
        expect(stderr).toMatch(new RegExp(`; sign in again with device-flow login --issuer URL --client-id ID --profile ${name}, which replaces it\\n$`));
        expect(stderr).not.toMatch(/\bat .*\.js:\d+/);
        expect(await readFile(file, 'utf8')).toBe(content);
      }
    }
    // A link is refused by name, whatever it points to: a usage problem, exit 2.
    await symlink(profileFile(config, 'good'), profileFile(config, 'linked'));
    const linked = await cli(config, ['token', '--profile', 'linked']);
    expect(linked.code).toBe(2);
    expect(linked.stderr).toMatch(/^device-flow: profile linked could not be read: The token file \S+linked\.json is a symbolic link: the store neither reads nor writes through one; name the file itself\n$/);
    expect((await lstat(profileFile(config, 'linked'))).isSymbolicLink()).toBe(true);
    // And a new login replaces a corrupt profile.
    await login(config, atIssuer('text'));
    expect((await cli(config, ['token', '--profile', 'text'])).code).toBe(0);
  }, 60_000);

  it('refuses a directory it cannot write before the login starts, exit 2, nothing asked of the server', async () => {
    const config = isolatedConfigHome();
    await mkdir(join(config, 'device-flow'), { recursive: true });
    await writeFile(profilesIn(config), 'a file where the directory should be');
    const { code, stdout, stderr } = await cli(config, ['login', ...atIssuer('blocked')]);
    expect([code, stdout]).toEqual([2, '']);
    expect(stderr).toBe(`device-flow: profile blocked cannot be saved: ${profilesIn(config)} is not a directory\n`);
    await rm(profilesIn(config));
  });
});

describe.concurrent('the command line', () => {
  const longName = 'x'.repeat(65);
  it.each([
    [['token', '--profile', '../etc'], '--profile takes a name of letters, digits, ".", "_" and "-", at most 64 long and not starting with "." or "-", not "../etc"'],
    [['status', '--profile', '.hidden'], '--profile takes a name of letters, digits, ".", "_" and "-", at most 64 long and not starting with "." or "-", not ".hidden"'],
    [['logout', '--profile', 'a/b'], '--profile takes a name of letters, digits, ".", "_" and "-", at most 64 long and not starting with "." or "-", not "a/b"'],
    [['refresh', '--profile', longName], `--profile takes a name of letters, digits, ".", "_" and "-", at most 64 long and not starting with "." or "-", not "${longName}"`],
    [['login', '--issuer', 'https://as.example', '--client-id', 'x', '--profile', ''], '--profile takes a name of letters, digits, ".", "_" and "-", at most 64 long and not starting with "." or "-", not ""'],
    [['login', '--issuer', 'https://as.example', '--client-id', 'x', '--store', 'vault'], '--store must be keychain, file or none, not "vault"'],
    [['login', '--issuer', 'https://as.example', '--client-id', 'x', '--store', 'none', '--profile', 'p'], '--profile does not go with --store none, which saves nothing: leave one out'],
    [['login', '--issuer', 'https://as.example', '--client-id', 'x', '--min-validity', '5'], '--min-validity belongs to the token command: run device-flow token --min-validity …'],
    [['token', '--json'], '--json does not go with token: it belongs to login, the demo, status and profiles, and token takes --profile and --min-validity'],
    [['token', '--client-id', 'x'], '--client-id does not go with token: it belongs to login, and token takes --profile and --min-validity'],
    [['status', '--min-validity', '5'], '--min-validity does not go with status: it belongs to token, and status takes --profile and --json'],
    [['refresh', '--json'], '--json does not go with refresh: it belongs to login, the demo, status and profiles, and refresh takes only --profile'],
    [['logout', '--store', 'file'], '--store does not go with logout: it belongs to login, and logout takes only --profile'],
    [['profiles', '--profile', 'p'], '--profile does not go with profiles: it belongs to login, token, status, refresh and logout, and profiles takes only --json'],
    [['token', '--min-validity', '-1'], '--min-validity takes a number of seconds from 0 to 86400, not "-1"'],
    [['token', '--min-validity', 'soon'], '--min-validity takes a number of seconds from 0 to 86400, not "soon"'],
    [['token', '--min-validity', '90000'], '--min-validity takes a number of seconds from 0 to 86400, not "90000"'],
    [['token', '--profile'], '--profile needs a value: --profile NAME'],
    [['token', 'extra'], 'unexpected argument "extra"; see device-flow --help'],
    [['demo', '--profile', 'p'], '--profile does not go with the demo, whose server and tokens end with it: sign in with device-flow login --profile …'],
    [['demo', '--store', 'file'], '--store belongs to the login command: run device-flow login --store …'],
    [['serve', '--profile', 'p'], '--profile does not go with serve: it takes --port, --interval, --code-lifetime and --access-token-lifetime'],
    [['tokens'], 'unknown command "tokens": use login, token, status, refresh, logout, profiles, demo, serve or providers'],
  ])('refuses %j in one line, exit 2', async (args, message) => {
    const { code, stdout, stderr } = await runCli(args);
    expect([code, stdout, stderr]).toEqual([2, '', `device-flow: ${message}\n`]);
  });

  it.each([
    [{ DEVICE_FLOW_STORE: 'vault' }, [], 'DEVICE_FLOW_STORE must be keychain, file or none, not "vault": fix or unset it, or give --store'],
    [{ DEVICE_FLOW_STORE: 'none' }, ['--profile', 'p'], '--profile needs a store, but DEVICE_FLOW_STORE is none: add --store keychain or --store file'],
  ])('refuses DEVICE_FLOW_STORE %j for a login in one line, exit 2; --store wins over it', async (env, args, message) => {
    const login = ['login', '--issuer', 'https://as.example', '--client-id', 'x', ...args];
    expect(await runCli(login, { env })).toMatchObject({ code: 2, stdout: '', stderr: `device-flow: ${message}\n` });
    const { code, stderr } = await runCli([...login, '--store', 'file', '--authorization-url', 'x'], { env });
    // Past the store: the next mistake is the one reported.
    expect([code, stderr]).toEqual([2, 'device-flow: give only one of --issuer, --provider, or --authorization-url with --token-url\n']);
  });

  it('documents the new commands, options and exit code 9 in --help', async () => {
    const { stdout } = await runCli(['--help']);
    for (const text of ['device-flow token [--profile NAME] [--min-validity SECONDS]', 'device-flow status [--profile NAME] [--json]', 'device-flow refresh', 'device-flow logout', 'device-flow profiles [--json]', '--store keychain|file|none', 'DEVICE_FLOW_STORE', '9 a new sign-in is needed']) {
      expect(stdout).toContain(text);
    }
  });
});

describe('the scenario of the issue', () => {
  it('device-flow serve in one process, login --profile demo in another, and later token --profile demo from a third', async (context) => {
    const serve = startCli(['serve', '--port', '0', '--interval', '1'], { timeout: 60_000 });
    context.onTestFinished(async () => {
      serve.child.kill('SIGINT');
      await serve.done;
    });
    const [, issuer] = await serve.stdoutMatching(/listening at (http:\/\/127\.0\.0\.1:\d+)[\s\S]*Ctrl-C stops the server\.\n/);
    const config = isolatedConfigHome();
    const login = startCli(['login', '--issuer', issuer!, '--client-id', 'device-flow-demo', '--profile', 'demo'], { env: { XDG_CONFIG_HOME: config } });
    const [, url, userCode] = await login.stderrMatching(/open (\S+)\nand enter the code (\S+)/);
    await actAsUser(url!, userCode!, { decision: 'approve', login: 'scenario-user' });
    const signedIn = await login.done;
    expect(signedIn.code, signedIn.stderr).toBe(0);
    expect(signedIn.stdout).toMatch(/^Signed in\.\n/);

    const { code, stdout, stderr } = await runCli(['token', '--profile', 'demo'], { env: { XDG_CONFIG_HOME: config } });
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^[\w-]{20,}\n$/);
    // The token works where tokens are for: the server's userinfo endpoint knows whose it is.
    const userinfo = await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${stdout.trim()}` } });
    expect(userinfo.status).toBe(200);
    expect(await userinfo.json()).toMatchObject({ sub: 'scenario-user' });
  }, 60_000);
});
