/**
 * An optional peer dependency that is not installed: the command says what to install in one line and exits 8, with
 * nothing on stdout, whichever command needs it. (test/gitInstall.test.ts sees the same from a real install.)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isolatedConfigHome } from '../helpers/cli.js';

afterEach(() => {
  vi.doUnmock('oidc-provider');
  vi.doUnmock('@statelyai/inspect');
  vi.doUnmock('@napi-rs/keyring');
  vi.resetModules();
});

/**
 * Runs the CLI in this process with `missing` unresolvable, as when it is not installed; profiles in files under
 * `config` (a directory of its own by default), never the developer's.
 */
async function runWithout(missing: string, argv: string[], config = isolatedConfigHome()) {
  vi.resetModules();
  vi.doMock(missing, () => {
    throw Object.assign(new Error(`Cannot find package '${missing}'`), { code: 'ERR_MODULE_NOT_FOUND' });
  });
  const { run } = await import('../../src/cli/run.js');
  let stdout = '';
  let stderr = '';
  const io = { stdout: { write: (text: string) => ((stdout += text), true) }, stderr: { write: (text: string) => ((stderr += text), true) } };
  const code = await run(argv, { ...io, interrupt: new AbortController().signal }, { DEVICE_FLOW_STORE: 'file', XDG_CONFIG_HOME: config });
  return { code, stdout, stderr };
}

const NEEDS_OIDC_PROVIDER = 'device-flow: The local authorization server needs the optional oidc-provider package: npm install oidc-provider@8\n';

describe('a missing optional package', () => {
  it.each([[[]], [['demo', '--json']], [['serve', '--port', '0']]])('device-flow %j without oidc-provider: one line, exit 8', async (argv) => {
    expect(await runWithout('oidc-provider', argv)).toEqual({ code: 8, stdout: '', stderr: NEEDS_OIDC_PROVIDER });
  });

  it('device-flow login --inspect --json without @statelyai/inspect: one line, exit 8, no JSON', async () => {
    const endpoints = ['--authorization-url', 'http://127.0.0.1:9/device', '--token-url', 'http://127.0.0.1:9/token'];
    expect(await runWithout('@statelyai/inspect', ['login', ...endpoints, '--client-id', 'x', '--inspect', '--json'])).toEqual({
      code: 8,
      stdout: '',
      stderr: 'device-flow: The inspector relay needs the optional @statelyai/inspect package: npm install @statelyai/inspect\n',
    });
  });

  const NEEDS_KEYRING = 'device-flow: The keychain token store needs the optional @napi-rs/keyring package: npm install @napi-rs/keyring\n';

  it('device-flow login --store keychain without @napi-rs/keyring: one line, exit 8, before the server is asked anything', async () => {
    const endpoints = ['--authorization-url', 'http://127.0.0.1:9/device', '--token-url', 'http://127.0.0.1:9/token'];
    expect(await runWithout('@napi-rs/keyring', ['login', ...endpoints, '--client-id', 'x', '--store', 'keychain', '--json'])).toEqual({ code: 8, stdout: '', stderr: NEEDS_KEYRING });
  });

  it('device-flow token for a keychain profile without @napi-rs/keyring: one line, exit 8', async () => {
    const config = isolatedConfigHome();
    const profiles = join(config, 'device-flow', 'profiles');
    await mkdir(profiles, { recursive: true });
    await writeFile(join(profiles, 'k.keychain'), '{}');
    expect(await runWithout('@napi-rs/keyring', ['token', '--profile', 'k'], config)).toEqual({ code: 8, stdout: '', stderr: NEEDS_KEYRING });
  });
});
