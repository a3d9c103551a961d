/**
 * `device-flow serve`: the development server in the foreground, signed in against from another process as a user's
 * own app would, and stopped with Ctrl-C.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { actAsUser } from '../../src/devServer/simulatedUser.js';
import { documentedJson, runCli, startCli } from '../helpers/cli.js';

describe('device-flow serve', () => {
  it('prints the issuer, endpoints and clients; logins against it succeed, public and confidential; Ctrl-C stops it with exit 0', async () => {
    const serve = startCli(['serve', '--port', '0', '--interval', '1', '--code-lifetime', '120', '--access-token-lifetime', '90'], { timeout: 60_000 });
    const [banner, issuer] = await serve.stdoutMatching(/listening at (http:\/\/127\.0\.0\.1:\d+)[\s\S]*Ctrl-C stops the server\.\n/);
    expect(banner).toContain(`Device authorization  ${issuer}/device/auth`);
    expect(banner).toContain(`Verification page     ${issuer}/device`);
    expect(banner).toContain('Codes live 120 s, access tokens 90 s; polls come every 1 s or get slow_down.');
    expect(banner).toContain(`npx device-flow login --issuer ${issuer} --client-id device-flow-demo`);
    const basicSecret = /device-flow-basic\s+client_secret_basic, secret (\S+)/.exec(banner)![1]!;

    const login = async (client: string[], env: Record<string, string> = {}) => {
      const run = startCli(['login', '--issuer', issuer!, ...client, '--scope', 'openid offline_access', '--json', '--no-qr'], { env });
      const [, url, userCode] = await run.stderrMatching(/open (\S+)\nand enter the code (\S+)/);
      await actAsUser(url!, userCode!, { decision: 'approve', login: 'serve-user' });
      return run.done;
    };
    const [publicLogin, basicLogin] = await Promise.all([
      login(['--client-id', 'device-flow-demo']),
      login(['--client-id', 'device-flow-basic', '--client-auth', 'basic'], { DEVICE_FLOW_CLIENT_SECRET: basicSecret }),
    ]);
    for (const { code, stdout, stderr } of [publicLogin, basicLogin]) {
      expect(code, stderr).toBe(0);
      const result = documentedJson(stdout);
      expect(result.refreshToken).toEqual(expect.any(String));
      // The lifetime given to serve is the one the token carries.
      expect(Date.parse(result.expiresAt) - Date.now()).toBeGreaterThan(60_000);
      expect(Date.parse(result.expiresAt) - Date.now()).toBeLessThanOrEqual(90_000);
    }

    serve.child.kill('SIGINT');
    const { code, stderr } = await serve.done;
    expect(code).toBe(0);
    expect(stderr).toBe('Stopped the authorization server.\n');
    await expect(fetch(`${issuer}/.well-known/openid-configuration`)).rejects.toThrow();
  }, 60_000);

  it('says which port is taken and how to choose another, exit 2', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const { port } = taken.address() as { port: number };
    try {
      const { code, stdout, stderr } = await runCli(['serve', '--port', String(port)]);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toBe(`device-flow: port ${port} of 127.0.0.1 is in use: choose another with --port PORT (0 picks a free one)\n`);
    } finally {
      taken.close();
    }
  });

  it.each([
    [['serve', '--port', '70000'], '--port takes a port number from 0 to 65535, not "70000"'],
    [['serve', '--interval', '0'], '--interval takes a number of seconds greater than 0, not "0"'],
    [['serve', '--code-lifetime', '90000'], '--code-lifetime takes at most 86400 seconds (a day), not 90000'],
    [['serve', '--client-id', 'x'], '--client-id does not go with serve: it takes --port, --interval, --code-lifetime and --access-token-lifetime'],
    [['login', '--issuer', 'https://example.com', '--client-id', 'x', '--port', '1'], '--port belongs to the serve command: run device-flow serve --port …'],
    [['demo', '--interval', '2'], '--interval belongs to the serve command: run device-flow serve --interval …'],
    [['serve', '--port'], '--port needs a value: --port PORT'],
  ])('refuses %j in one line, exit 2', async (args, message) => {
    const { code, stderr } = await runCli(args);
    expect(code).toBe(2);
    expect(stderr).toBe(`device-flow: ${message}\n`);
  });
});
