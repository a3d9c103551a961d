/**
 * A new user's first steps, in a fresh project: install the package from a git URL (npm clones it and runs its
 * `prepare` build), run `npx device-flow` without the optional oidc-provider (one line, exit 8), add oidc-provider,
 * then type-check and run the first program of docs/getting-started.md against `oauth2-device-flow/dev-server`.
 *
 * The repository installed is a commit of this working tree (tracked files and new ones not ignored), so the test
 * sees uncommitted changes. npm takes the packages from its cache when it has them (`npm ci` put the tarballs there);
 * it may ask the registry for their metadata, as any `npm install` does.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';

const root = resolve(import.meta.dirname, '..');
const npmEnv = { npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
let work: string;
let consumer: string;

/** Runs `npm args` in the consumer project; fails with npm's own output. */
async function npm(args: string[], timeout = 180_000): Promise<void> {
  const { code, stderr } = await runCli(args, { command: ['npm'], cwd: consumer, env: npmEnv, timeout });
  expect(code, stderr).toBe(0);
}

/** The first program of docs/getting-started.md: the block after "Save this as `sign-in.mjs`". */
async function gettingStartedProgram(): Promise<string> {
  const page = await readFile(join(root, 'docs/getting-started.md'), 'utf8');
  const program = /Save this as `sign-in\.mjs`[^\n]*\n\n```ts\n([\s\S]*?)^```$/m.exec(page)?.[1];
  if (program === undefined) throw new Error('docs/getting-started.md has no program after "Save this as `sign-in.mjs`"');
  return program;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'device-flow-git-install-'));
  const repository = join(work, 'oauth2-device-flow');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) if (existsSync(join(root, file))) await cp(join(root, file), join(repository, file));
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@127.0.0.1', '-c', 'commit.gpgsign=false', ...args], { cwd: repository, stdio: 'ignore' });
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '-m', 'snapshot');

  consumer = join(work, 'consumer');
  await cp(join(root, 'test/fixtures/consumer'), consumer, { recursive: true });
  // Approves the package's prepare script, as the getting-started page says, so that npm 11 does not list it.
  const manifest = JSON.parse(await readFile(join(consumer, 'package.json'), 'utf8'));
  await writeFile(join(consumer, 'package.json'), JSON.stringify({ ...manifest, allowScripts: { 'oauth2-device-flow': true } }, null, 2));
  await npm(['install', `git+file://${repository}`]);
}, 240_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('installing from a git URL', () => {
  it('builds the package: dist/ with declarations, the LICENSE, and the executable', async () => {
    const installed = join(consumer, 'node_modules/oauth2-device-flow');
    expect(existsSync(join(installed, 'dist/index.js'))).toBe(true);
    expect(existsSync(join(installed, 'dist/devServer/index.d.ts'))).toBe(true);
    expect(existsSync(join(installed, 'LICENSE'))).toBe(true);
    const { code, stdout } = await runCli(['device-flow', '--version'], { command: ['npx', '--no-install'], cwd: consumer });
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(JSON.parse(await readFile(join(root, 'package.json'), 'utf8')).version);
  });

  it('without the optional oidc-provider or @statelyai/inspect, npx device-flow says what to install in one line, exit 8', async () => {
    for (const command of [['device-flow'], ['device-flow', 'serve', '--port', '0']]) {
      const { code, stdout, stderr } = await runCli(command, { command: ['npx', '--no-install'], cwd: consumer });
      expect(code).toBe(8);
      expect(stdout).toBe('');
      expect(stderr).toBe('device-flow: The local authorization server needs the optional oidc-provider package: npm install oidc-provider@8\n');
    }
    const endpoints = ['--authorization-url', 'http://127.0.0.1:9/device', '--token-url', 'http://127.0.0.1:9/token'];
    const inspect = await runCli(['device-flow', 'login', ...endpoints, '--client-id', 'x', '--inspect'], { command: ['npx', '--no-install'], cwd: consumer });
    expect(inspect.code).toBe(8);
    expect(inspect.stderr).toBe('device-flow: The inspector relay needs the optional @statelyai/inspect package: npm install @statelyai/inspect\n');
  });

  it('with oidc-provider added, the getting-started program type-checks and signs in against the dev server', async () => {
    await npm(['install', 'oidc-provider@8']);
    const program = await gettingStartedProgram();
    await writeFile(join(consumer, 'sign-in.mjs'), program);
    await writeFile(join(consumer, 'sign-in.ts'), program);
    // The installed package's declarations, through its exports map, as the reader's editor sees them.
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const checked = await runCli([tsc, '-p', 'tsconfig.json'], { command: [process.execPath], cwd: consumer });
    expect(checked.code, checked.stdout).toBe(0);

    const { code, stdout, stderr } = await runCli(['sign-in.mjs'], { command: [process.execPath], cwd: consumer, timeout: 30_000 });
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(
      /^Open http:\/\/127\.0\.0\.1:\d+\/device and enter [A-Z]{4}-[A-Z]{4}\nSigned in with scope "openid offline_access"; the access token expires at \d{4}-\d\d-\d\dT[\d:.]+Z\.\n$/,
    );
  }, 120_000);
});
