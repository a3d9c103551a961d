/**
 * `login --store keychain` and `token` against a real keychain: GNOME Keyring, in a D-Bus session of its own
 * (`dbus-run-session`), with a throw-away login keyring unlocked by a password piped in, under a temporary HOME. The
 * developer's own keychain and session bus are never reached. Where the tools are missing, the test says so by name
 * and does not run.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devServer/server.js';
import { CLI, documentedJson, documentedProfiles, isolatedConfigHome, startCli } from '../helpers/cli.js';

const root = resolve(import.meta.dirname, '../..');
const onPath = (command: string) => (process.env.PATH ?? '').split(delimiter).some((directory) => directory !== '' && existsSync(join(directory, command)));
const hasKeyring = (() => {
  try {
    createRequire(join(root, 'package.json')).resolve('@napi-rs/keyring');
    return true;
  } catch {
    return false;
  }
})();
const missing = [
  ...['gnome-keyring-daemon', 'dbus-run-session'].filter((command) => !onPath(command)).map((command) => `${command} is not on PATH`),
  ...(hasKeyring ? [] : ['the optional @napi-rs/keyring package is not installed']),
];
const ready = missing.length === 0;

let server: DevServer;
let home: string;
beforeAll(async () => {
  if (!ready) return;
  server = await startDevServer({ interval: 1 });
  home = await mkdtemp(join(tmpdir(), 'device-flow-keychain-'));
});
afterAll(async () => {
  await server?.close();
  if (home) await rm(home, { recursive: true, force: true });
});

/** Every file under `directory`, recursively. */
async function filesUnder(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

describe('device-flow login --store keychain', () => {
  it('keeps the session in the keychain, not in a file: token reads it from there, profiles lists it from its marker', async (context) => {
    if (!ready) {
      const note = `the keychain test did NOT run: ${missing.join('; ')}`;
      console.warn(`device-flow: ${note}`);
      context.skip(note);
    }
    const config = isolatedConfigHome();
    const runtime = join(home, 'run');
    await mkdir(runtime, { mode: 0o700 });
    const cli = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)}`;
    // One session: the daemon, the keyring it unlocks and the bus all end with it.
    const script = [
      'set -e',
      'eval "$(printf throw-away-password | gnome-keyring-daemon --unlock --components=secrets)" >/dev/null',
      `${cli} login --store keychain --profile k --issuer ${server.issuer} --client-id device-flow-demo --no-qr --json`,
      'echo @@token',
      `${cli} token --profile k`,
      'echo @@profiles',
      `${cli} profiles --json`,
      'echo @@keychain',
      `${JSON.stringify(process.execPath)} --input-type=module -e "const { AsyncEntry } = await import('@napi-rs/keyring'); process.stdout.write(String(await new AsyncEntry('device-flow', 'k', { linux: { store: 'secret-service' } }).getPassword()))"`,
    ].join('\n');
    const session = startCli([], {
      command: ['dbus-run-session', '--', 'bash', '-c', script],
      cwd: root,
      timeout: 60_000,
      env: { HOME: home, XDG_CONFIG_HOME: config, XDG_DATA_HOME: join(home, '.local/share'), XDG_CACHE_HOME: join(home, '.cache'), XDG_RUNTIME_DIR: runtime },
    });
    const [, userCode] = await session.stderrMatching(/and enter the code (\S+)/);
    await server.approve(userCode!);
    const { code, stdout, stderr } = await session.done;
    expect(code, stderr).toBe(0);
    const [loginLine, rest] = stdout.split('@@token\n') as [string, string];
    const [tokenLine, rest2] = rest.split('@@profiles\n') as [string, string];
    const [profilesLine, kept] = rest2.split('@@keychain\n') as [string, string];

    const tokens = documentedJson(loginLine);
    expect(stderr).toContain('Saved as profile k in the keychain (service device-flow, account k); device-flow token --profile k prints its access token.');
    expect(tokenLine).toBe(`${tokens.accessToken}\n`);
    const record = JSON.parse(kept) as { format: string; snapshot: { state: { context: { properties: { token: string; refreshToken: string } } } } };
    expect(record.format).toBe('device-flow-profile');
    expect(record.snapshot.state.context.properties).toMatchObject({ token: tokens.accessToken, refreshToken: tokens.refreshToken });
    expect(documentedProfiles(profilesLine).profiles).toEqual([
      { name: 'k', store: 'keychain', issuer: server.issuer, tokenUrl: server.tokenUrl, clientId: 'device-flow-demo', signedIn: true },
    ]);

    // On disk: the marker (no secret in it), no record file; and no file anywhere holds a token.
    const profiles = join(config, 'device-flow', 'profiles');
    expect(existsSync(join(profiles, 'k.keychain'))).toBe(true);
    expect(existsSync(join(profiles, 'k.json'))).toBe(false);
    const files = [...(await filesUnder(config)), ...(await filesUnder(home))];
    expect(files.some((file) => file.endsWith('.keyring'))).toBe(true);
    for (const file of files) {
      const content = await readFile(file, 'latin1');
      for (const secret of [tokens.accessToken, tokens.refreshToken, tokens.idToken]) expect(content.includes(secret), `${secret} in ${file}`).toBe(false);
    }
  }, 60_000);
});
