/**
 * The keychain token store against a real Secret Service: GNOME Keyring, started in a D-Bus session of its own with a
 * throw-away HOME, in a child process that runs the built package (dist/, built by the test run's global setup). It
 * covers the round trip, clear, values split across entries (and what a lost or mixed part does), and what the user is
 * told when there is no keychain service, no session bus, no keyring, or a locked one. Without gnome-keyring-daemon
 * and dbus-run-session on PATH those tests do not run, and say so (.ci/run installs them on Debian).
 */
import { execFileSync, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenStore } from '../../src/flow/tokenStore.js';
import { createKeyringTokenStore } from '../../src/node/keyringTokenStore.js';

const repository = resolve(import.meta.dirname, '../..');
const MODULE = pathToFileURL(join(repository, 'dist/node/index.js')).href;

function onPath(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const hasSecretService = process.platform === 'linux' && onPath('gnome-keyring-daemon') && onPath('dbus-run-session');
if (!hasSecretService) {
  console.info(
    'keyringTokenStore.test.ts: the real keychain tests DID NOT RUN: they need Linux with gnome-keyring-daemon and dbus-run-session on PATH (Debian: apt-get install gnome-keyring dbus)',
  );
}
const NEEDS = ' [needs gnome-keyring-daemon and dbus-run-session on PATH: skipped without them]';

/**
 * What the child runs before the scenario: the store factory, `@napi-rs/keyring` itself to look behind the store's
 * back, and `attempt`, which turns a rejection into its name, code and message.
 */
const PRELUDE = `
  import { createRequire } from 'node:module';
  const { createKeyringTokenStore } = await import(process.env.STORE_MODULE);
  const { AsyncEntry, findCredentials } = createRequire(process.env.STORE_MODULE)('@napi-rs/keyring');
  const SERVICE = 'oauth2-device-flow-test';
  const entry = (account) => new AsyncEntry(SERVICE, account, { linux: { store: 'secret-service' } });
  const accounts = () => findCredentials(SERVICE).map((credential) => credential.account).sort();
  const attempt = async (run) => {
    try { return { value: await run() }; } catch (error) { return { error: { name: error.name, code: error.code, message: error.message } }; }
  };
  const report = {};
`;
const REPORT = `console.log('RESULT ' + JSON.stringify(report));`;

type Keychain = 'unlocked' | 'started by D-Bus, not unlocked' | 'no Secret Service on the bus' | 'no session bus';

/** Runs `scenario` (JavaScript, after PRELUDE; it fills `report`) in a child process with `keychain`, and gives `report`. */
async function inKeychainSession(keychain: Keychain, scenario: string, home?: string): Promise<Record<string, any>> {
  home ??= await mkdtemp(join(tmpdir(), 'keyring-home-'));
  const runtime = join(home, 'run');
  await mkdir(runtime, { recursive: true, mode: 0o700 });
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value;
  // Nothing of the user's own session: its bus, its keyring daemon, or a display a prompt could open on.
  for (const name of ['DBUS_SESSION_BUS_ADDRESS', 'GNOME_KEYRING_CONTROL', 'DISPLAY', 'WAYLAND_DISPLAY', 'SSH_AUTH_SOCK']) delete env[name];
  Object.assign(env, {
    HOME: home,
    XDG_RUNTIME_DIR: runtime,
    XDG_DATA_HOME: join(home, '.local/share'),
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    STORE_MODULE: MODULE,
  });
  const node = [process.execPath, '--input-type=module', '-e', `${PRELUDE}\n${scenario}\n${REPORT}`];
  let command: string[];
  switch (keychain) {
    case 'unlocked':
      // The recipe of a headless Secret Service: the daemon creates the login keyring with this password, unlocked.
      command = ['dbus-run-session', '--', 'sh', '-c', 'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$@"', 'sh', ...node];
      break;
    case 'started by D-Bus, not unlocked':
      // D-Bus starts gnome-keyring-daemon on the first call (its .service file), with no keyring unlocked.
      command = ['dbus-run-session', '--', ...node];
      break;
    case 'no Secret Service on the bus': {
      // A session bus that starts no services: nothing provides org.freedesktop.secrets.
      const config = join(home, 'bus.conf');
      await writeFile(
        config,
        `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:tmpdir=${tmpdir()}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>`,
      );
      command = ['dbus-run-session', `--config-file=${config}`, '--', ...node];
      break;
    }
    case 'no session bus':
      command = node;
      break;
  }
  const child = spawn(command[0]!, command.slice(1), { env, cwd: home, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise((resolveExit) => child.on('exit', resolveExit));
  clearTimeout(timer);
  // The daemon prints its own lines (GNOME_KEYRING_CONTROL=…) on the same stdout.
  const line = stdout.split('\n').find((text) => text.startsWith('RESULT '));
  if (line === undefined) throw new Error(`the keychain child (${keychain}) exited with ${code} and no result:\n${stdout}\n${stderr}`);
  return JSON.parse(line.slice('RESULT '.length)) as Record<string, any>;
}

const homes: string[] = [];
async function throwAwayHome(): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'keyring-home-'));
  homes.push(home);
  return home;
}
afterAll(async () => {
  for (const home of homes) await rm(home, { recursive: true, force: true });
});

describe.skipIf(!hasSecretService)(`createKeyringTokenStore with a real Secret Service (GNOME Keyring)${NEEDS}`, () => {
  it('round trip: nothing at first, what was saved last (kept whole in one entry), nothing after clear, twice', async () => {
    const report = await inKeychainSession(
      'unlocked',
      `
      const store = createKeyringTokenStore({ service: SERVICE, account: 'alice' });
      report.initial = await store.load();
      await store.save('{"accessToken":"first"}');
      report.loaded = await store.load();
      report.raw = await entry('alice').getPassword();
      await store.save('{"accessToken":"second 🦊"}');
      report.replaced = await store.load();
      report.accountsBeforeClear = accounts();
      await store.clear();
      report.cleared = await store.load();
      report.clearedAgain = (await attempt(() => store.clear())).error ?? 'no error';
      report.accountsAfterClear = accounts();
      // Another store of the same entry sees the same value: it is the keychain's, not the object's.
      await createKeyringTokenStore({ service: SERVICE, account: 'alice' }).save('shared');
      report.shared = await store.load();
      `,
      await throwAwayHome(),
    );
    expect(report).toEqual({
      initial: null,
      loaded: '{"accessToken":"first"}',
      raw: '{"accessToken":"first"}',
      replaced: '{"accessToken":"second 🦊"}',
      accountsBeforeClear: ['alice'],
      cleared: null,
      clearedAgain: 'no error',
      accountsAfterClear: [],
      shared: 'shared',
    });
  });

  it('splits a value longer than chunkSize across entries, reassembles it, removes the stale parts, and reports a lost one', async () => {
    const report = await inKeychainSession(
      'unlocked',
      `
      const store = createKeyringTokenStore({ service: SERVICE, account: 'bob', chunkSize: 10 });
      const long = '{"token":"' + 'abcdefghij'.repeat(4) + '"}';
      await store.save(long);
      report.longLength = long.length;
      report.longAccounts = accounts();
      report.head = await entry('bob').getPassword();
      report.longLoaded = (await store.load()) === long;

      const short = '{"t":"0123456789"}';
      await store.save(short);
      report.shortAccounts = accounts();
      report.shortLoaded = (await store.load()) === short;

      const tiny = '{}';
      await store.save(tiny);
      report.tinyAccounts = accounts();
      report.tinyRaw = await entry('bob').getPassword();

      // Emoji are two code units each: no part may end between the two halves of one.
      const emoji = '🦊🐻🐼🐨🐯🦁🐮🐷🐸🐵🐔';
      await createKeyringTokenStore({ service: SERVICE, account: 'bob', chunkSize: 3 }).save(emoji);
      report.emojiLoaded = await createKeyringTokenStore({ service: SERVICE, account: 'bob', chunkSize: 3 }).load();

      // A value that looks like a header is split too, so that it is never read as one.
      const lookalike = 'oauth2-device-flow/chunks:2:00000000;x';
      await createKeyringTokenStore({ service: SERVICE, account: 'bob' }).save(lookalike);
      report.lookalikeLoaded = await createKeyringTokenStore({ service: SERVICE, account: 'bob' }).load();

      await store.save(long);
      await entry('bob#2').deleteCredential();
      report.missingPart = await attempt(() => store.load());

      await store.save(long);
      const part = await entry('bob#1').getPassword();
      await entry('bob#1').setPassword('00000000;' + part.slice(9));
      report.mixedParts = await attempt(() => store.load());

      // A save and a clear mend what a lost part broke.
      await store.save(long);
      await entry('bob#3').deleteCredential();
      await store.clear();
      report.accountsAfterClear = accounts();
      report.afterClear = await store.load();
      `,
      await throwAwayHome(),
    );
    expect(report.longLength).toBe(52);
    expect(report.longAccounts).toEqual(['bob', 'bob#1', 'bob#2', 'bob#3', 'bob#4', 'bob#5']);
    expect(report.head).toMatch(/^oauth2-device-flow\/chunks:6:[0-9a-f]{8};\{"token":"$/);
    expect(report.longLoaded).toBe(true);
    expect(report.shortAccounts).toEqual(['bob', 'bob#1']);
    expect(report.shortLoaded).toBe(true);
    expect(report.tinyAccounts).toEqual(['bob']);
    expect(report.tinyRaw).toBe('{}');
    expect(report.emojiLoaded).toBe('🦊🐻🐼🐨🐯🦁🐮🐷🐸🐵🐔');
    expect(report.lookalikeLoaded).toBe('oauth2-device-flow/chunks:2:00000000;x');
    expect(report.missingPart).toEqual({
      error: {
        name: 'DeviceFlowError',
        code: 'ClientError',
        message:
          'The keychain entry (service oauth2-device-flow-test, account bob) is corrupt: its part 3 of 6 (account bob#2) is missing; clear the store and sign in again',
      },
    });
    expect(report.mixedParts).toEqual({
      error: {
        name: 'DeviceFlowError',
        code: 'ClientError',
        message: 'The keychain entry (service oauth2-device-flow-test, account bob) is corrupt: its parts come from different saves; clear the store and sign in again',
      },
    });
    expect(report.accountsAfterClear).toEqual([]);
    expect(report.afterClear).toBeNull();
  });

  it('no keychain service running: a ClientError naming the cause, without the value', async () => {
    const report = await inKeychainSession(
      'no Secret Service on the bus',
      `
      const store = createKeyringTokenStore({ service: SERVICE, account: 'carol' });
      report.save = await attempt(() => store.save('{"refreshToken":"rt-SECRET-4711"}'));
      report.load = await attempt(() => store.load());
      report.clear = await attempt(() => store.clear());
      `,
      await throwAwayHome(),
    );
    for (const outcome of [report.save, report.load, report.clear]) {
      expect(outcome.error).toMatchObject({ name: 'DeviceFlowError', code: 'ClientError' });
      expect(outcome.error.message).toMatch(
        /^Could not open the keychain entry \(service oauth2-device-flow-test, account carol\): no keychain service is running \(nothing provides the Secret Service on the D-Bus session bus: start gnome-keyring-daemon, KWallet or KeePassXC\): .*org\.freedesktop\.secrets/,
      );
      expect(outcome.error.message).not.toContain('SECRET-4711');
    }
  });

  it('a keychain without a default keyring: saving says so, loading finds nothing', async () => {
    const report = await inKeychainSession(
      'started by D-Bus, not unlocked',
      `
      const store = createKeyringTokenStore({ service: SERVICE, account: 'dave' });
      report.save = await attempt(() => store.save('{"refreshToken":"rt-SECRET-4711"}'));
      report.load = await attempt(() => store.load());
      `,
      await throwAwayHome(),
    );
    expect(report.save.error.message).toMatch(
      /^Could not save the keychain entry \(service oauth2-device-flow-test, account dave\): the keychain has no default collection to keep it in/,
    );
    expect(report.save.error.message).not.toContain('SECRET-4711');
    expect(report.load).toEqual({ value: null });
  });

  it('a locked keychain: loading and saving say it is locked', async () => {
    const home = await throwAwayHome();
    const saved = await inKeychainSession('unlocked', `await createKeyringTokenStore({ service: SERVICE, account: 'erin' }).save('kept'); report.saved = true;`, home);
    expect(saved).toEqual({ saved: true });
    // The same HOME later: the login keyring exists, locked, and no prompt can open to unlock it.
    const report = await inKeychainSession(
      'started by D-Bus, not unlocked',
      `
      const store = createKeyringTokenStore({ service: SERVICE, account: 'erin' });
      report.load = await attempt(() => store.load());
      report.save = await attempt(() => store.save('{"refreshToken":"rt-SECRET-4711"}'));
      `,
      home,
    );
    expect(report.load.error).toMatchObject({ name: 'DeviceFlowError', code: 'ClientError' });
    expect(report.load.error.message).toMatch(/^Could not read the keychain entry \(service oauth2-device-flow-test, account erin\): the keychain is locked and was not unlocked: /);
    expect(report.save.error.message).toMatch(/^Could not save the keychain entry \(service oauth2-device-flow-test, account erin\): the keychain is locked and was not unlocked: /);
    expect(report.save.error.message).not.toContain('SECRET-4711');
  });
});

describe.skipIf(process.platform !== 'linux')('createKeyringTokenStore without a D-Bus session bus [Linux only]', () => {
  it('says there is no session bus, rather than falling back to the kernel keyring', async () => {
    const report = await inKeychainSession(
      'no session bus',
      `report.load = await attempt(() => createKeyringTokenStore({ service: SERVICE, account: 'frank' }).load());`,
      await throwAwayHome(),
    );
    expect(report.load.error).toMatchObject({ name: 'DeviceFlowError', code: 'ClientError' });
    expect(report.load.error.message).toMatch(
      /^Could not open the keychain entry \(service oauth2-device-flow-test, account frank\): there is no D-Bus session bus to reach a keychain service on/,
    );
  });
});

describe('createKeyringTokenStore without @napi-rs/keyring installed', () => {
  let copy: string;

  beforeAll(async () => {
    // The built package beside a node_modules that has everything but @napi-rs/keyring.
    copy = await throwAwayHome();
    await cp(join(repository, 'dist'), join(copy, 'dist'), { recursive: true });
    await mkdir(join(copy, 'node_modules'));
    for (const name of await readdir(join(repository, 'node_modules'))) {
      if (name !== '@napi-rs' && !name.startsWith('.')) await symlink(join(repository, 'node_modules', name), join(copy, 'node_modules', name));
    }
    await writeFile(join(copy, 'package.json'), '{"type":"module"}');
  });

  it('imports oauth2-device-flow/node all the same, and says what to install when the store is first used', async () => {
    const script = `
      const node = await import(${JSON.stringify(pathToFileURL(join(copy, 'dist/node/index.js')).href)});
      const store = node.createKeyringTokenStore({ account: 'grace' });
      const outcomes = [];
      for (const run of [() => store.load(), () => store.save('v'), () => store.clear()]) {
        try { await run(); outcomes.push('resolved'); } catch (error) { outcomes.push({ name: error.name, code: error.code, packageName: error.packageName, message: error.message }); }
      }
      console.log(JSON.stringify({ exports: Object.keys(node).sort(), outcomes }));`;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: copy, encoding: 'utf8' });
    const { exports, outcomes } = JSON.parse(output) as { exports: string[]; outcomes: unknown[] };
    expect(exports).toEqual(expect.arrayContaining(['createFileTokenStore', 'createKeyringTokenStore', 'withFileLock', 'createUndiciFetch']));
    const missing = {
      name: 'DeviceFlowError',
      code: 'ClientError',
      packageName: '@napi-rs/keyring',
      message: 'The keychain token store needs the optional @napi-rs/keyring package: npm install @napi-rs/keyring',
    };
    expect(outcomes).toEqual([missing, missing, missing]);
  });
});

describe('createKeyringTokenStore: its options and its lock (no keychain needed)', () => {
  it('is a TokenStore, and refuses options it cannot use', () => {
    const store: TokenStore = createKeyringTokenStore({ account: 'x' });
    expect(typeof store.lock).toBe('function');
    for (const [options, message] of [
      [{ account: '' }, 'Invalid setting: account must be a non-empty string'],
      [{ account: 'x', service: '' }, 'Invalid setting: service must be a non-empty string'],
      [{ account: 'x', chunkSize: 0 }, 'Invalid setting: chunkSize must be a positive number'],
      [{ account: 'x', chunkSize: 2.5 }, 'Invalid setting: chunkSize must be a whole number'],
      [{ account: 'x', linuxStore: 'kwallet' }, "Invalid setting: linuxStore must be 'secret-service' or 'keyutils'"],
    ] as const) {
      expect(() => createKeyringTokenStore(options as never), message).toThrow(expect.objectContaining({ code: 'ClientError', message }));
    }
  });

  it('without a lock file, orders the lock holders of this process, across stores of the same entry', async () => {
    const marks: string[] = [];
    const holder = (id: string) => async () => {
      marks.push(`${id} start`);
      await new Promise((resolveWait) => setTimeout(resolveWait, 20));
      marks.push(`${id} end`);
      if (id === 'b') throw new Error('b failed');
      return id;
    };
    const one = createKeyringTokenStore({ account: 'lock-test' });
    const two = createKeyringTokenStore({ account: 'lock-test' });
    const results = await Promise.allSettled([one.lock(holder('a')), two.lock(holder('b')), one.lock(holder('c'))]);
    expect(results.map((result) => (result.status === 'fulfilled' ? result.value : (result.reason as Error).message))).toEqual(['a', 'b failed', 'c']);
    expect(marks).toEqual(['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
  });

  it('with a lock file, holds it while the work runs', async () => {
    const directory = await throwAwayHome();
    const lockFile = join(directory, 'keyring.lock');
    const store = createKeyringTokenStore({ account: 'lock-test', lockFile });
    const during = await store.lock(async () => (await stat(lockFile)).isFile());
    expect(during).toBe(true);
    await expect(stat(lockFile)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
