/**
 * `npm start` and the demo command: a whole login against the embedded server, approved by the simulated user or, in
 * interactive mode, by the test acting as the person at the browser.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/cli/demo.js';
import { actAsUser } from '../../src/devServer/simulatedUser.js';
import { documentedJson, runCli, startCli } from '../helpers/cli.js';

const REDACTED_TOKEN = /^[\w-]{4}…[\w-]{4}$/;

describe('npm start', () => {
  it('completes a login against the embedded server with exit 0 within 30 s', async () => {
    // --ignore-scripts skips prestart's build: the test run built the package already.
    const { code, stdout, stderr, ms } = await runCli(['start', '--silent', '--ignore-scripts'], { command: ['npm'], timeout: 30_000 });
    expect(code).toBe(0);
    expect(ms).toBeLessThan(30_000);
    expect(stderr).toMatch(/To sign in, open http:\/\/127\.0\.0\.1:\d+\/device/);
    expect(stderr).toMatch(/enter the code [A-Z]{4}-[A-Z]{4}/);
    expect(stderr).toMatch(/[█▀▄]{10,}/);
    expect(stderr).toMatch(/Waiting for approval · code expires in \d+:\d\d · next check in \d+:\d\d/);
    expect(stderr).toMatch(/simulated user signed in as demo-user and approved/);
    const rows = stdout.split('\n').slice(1).filter(Boolean);
    const summary = Object.fromEntries(rows.filter((line) => !line.startsWith('    ')).map((line) => line.trim().split(/\s{2,}/) as [string, string]));
    const idToken = Object.fromEntries(rows.filter((line) => line.startsWith('    ')).map((line) => line.trim().split(/\s{2,}/) as [string, string]));
    expect(stdout.split('\n')[0]).toBe('Signed in.');
    expect(summary['access token']).toMatch(REDACTED_TOKEN);
    expect(summary['refresh token']).toMatch(REDACTED_TOKEN);
    // The demo knows its server's issuer and keys: the ID token was validated, and says whom and until when.
    expect(summary['ID token']).toMatch(new RegExp(`^${REDACTED_TOKEN.source.slice(1, -1)} \\(validated\\)$`));
    expect(idToken).toEqual({ issuer: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), subject: 'demo-user', expires: expect.stringMatching(/ \(in (59:\d\d|1:00:00)\)$/) });
    expect(summary.scope).toBe('openid profile offline_access');
  });
});

describe('npm start in a fresh checkout', () => {
  it('builds the package first (prestart), then completes the login', async () => {
    // The files a clone would have (tracked, or new and not ignored), and the installed dependencies.
    const root = resolve(import.meta.dirname, '../..');
    const checkout = await mkdtemp(join(tmpdir(), 'device-flow-checkout-'));
    const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
    for (const file of files) if (existsSync(join(root, file))) await cp(join(root, file), join(checkout, file));
    await symlink(join(root, 'node_modules'), join(checkout, 'node_modules'));
    expect(existsSync(join(checkout, 'dist'))).toBe(false);
    try {
      const { code, stdout, stderr } = await runCli(['start', '--silent'], { command: ['npm'], cwd: checkout, timeout: 90_000 });
      expect(code, stderr).toBe(0);
      expect(stdout.split('\n')[0]).toBe('Signed in.');
      expect(existsSync(join(checkout, 'dist/cli/main.js'))).toBe(true);
    } finally {
      await rm(checkout, { recursive: true, force: true });
    }
  }, 120_000);
});

describe.concurrent('device-flow demo', () => {
  it('prints the result as JSON on stdout with --json, the human text on stderr', async () => {
    const { code, stdout, stderr } = await runCli(['demo', '--json', '--no-qr']);
    expect(code).toBe(0);
    const result = documentedJson(stdout);
    expect(result).toMatchObject({ status: 'granted', scope: ['openid', 'profile', 'offline_access'], extraTokens: {} });
    expect(result.accessToken).toMatch(/^[\w-]{40,}$/);
    expect(new Date(result.expiresAt).getTime()).toBeGreaterThan(Date.now());
    expect(stderr).toMatch(/enter the code/);
    expect(stderr).not.toMatch(/[█▀▄]{10,}/);
    expect(stderr).not.toContain(result.accessToken);
  });

  it('writes the full tokens to --output with mode 0600, and prints only shortened ones', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'device-flow-')), 'tokens.json');
    const { code, stdout, stderr } = await runCli(['demo', '--output', file, '--no-qr']);
    expect(code).toBe(0);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const tokens = JSON.parse(await readFile(file, 'utf8'));
    expect(tokens.accessToken).toMatch(/^[\w-]{40,}$/);
    for (const token of [tokens.accessToken, tokens.refreshToken, tokens.idToken]) {
      expect(stdout).not.toContain(token);
      expect(stderr).not.toContain(token);
    }
    expect(stderr).toContain(`Tokens written to ${file}`);
  });

  it('waits for a real person with --interactive', async () => {
    const cli = startCli(['demo', '--interactive', '--json', '--no-qr']);
    const [, url] = await cli.stderrMatching(/or open (\S+), which carries the code/);
    const [, userCode] = await cli.stderrMatching(/enter the code (\S+)/);
    await cli.stderrMatching(/Approve in a browser on this machine/);
    expect(cli.child.exitCode).toBeNull();
    await actAsUser(url!, userCode!, { decision: 'approve', login: 'a-real-person' });
    const { code, stdout } = await cli.done;
    expect(code).toBe(0);
    const idToken = documentedJson(stdout).idToken as string;
    expect(JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString())).toMatchObject({ sub: 'a-real-person' });
  });

  it('updates one progress line on a terminal', async () => {
    // `script` gives the CLI a pseudo-terminal; its output is what the terminal received.
    const { code, stdout } = await runCli(['-qec', `${process.execPath} ${process.cwd()}/dist/cli/main.js demo --no-qr`, '/dev/null'], { command: ['script'] });
    expect(code).toBe(0);
    expect(stdout).toMatch(/\r\x1b\[2KWaiting for approval · code expires in \d+:\d\d · next check in \d+:\d\d/);
    expect(stdout).toMatch(/\x1b\[1m[A-Z]{4}-[A-Z]{4}\x1b\[22m/);
    expect(stdout.match(/\r\x1b\[2KWaiting for approval/g)!.length).toBeGreaterThanOrEqual(2);
  });
});

describe('Ctrl-C in the demo', () => {
  it('pressed while the local server starts: the login does not begin, exit 130', async () => {
    let stderr = '';
    const interrupt = new AbortController();
    const demo = runDemo(
      { interactive: false, json: false, output: null, qr: false, timeout: null, inspect: false, open: null, scope: null, dpop: false },
      { stdout: { write: () => true }, stderr: { write: (text: string) => (stderr += text) }, interrupt: interrupt.signal },
    );
    interrupt.abort();
    expect(await demo).toBe(130);
    expect(stderr).toMatch(/device-flow: cancelled\./);
    expect(stderr).not.toMatch(/enter the code/);
  });

  it('pressed while waiting for the simulated user: exits 130 at once, without waiting for the user', async () => {
    const cli = startCli(['demo', '--no-qr']);
    await cli.stderrMatching(/A simulated user will approve in/);
    const pressed = Date.now();
    cli.child.kill('SIGINT');
    const { code, stderr } = await cli.done;
    expect(code).toBe(130);
    expect(stderr).not.toMatch(/simulated user signed in/);
    // The simulated user would arrive 2.5 s after the code was shown.
    expect(Date.now() - pressed).toBeLessThan(2_000);
  });
});
