/**
 * examples/inspector/node.mjs, run as a user would run it: it shows the flow on a relay on 127.0.0.1, where the test
 * listens as the inspector page would, and signs in when the test approves as the user.
 */
import { resolve } from 'node:path';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { actAsUser } from '../../src/devServer/simulatedUser.js';
import { startCli } from '../helpers/cli.js';

const example = resolve(import.meta.dirname, '../../examples/inspector/node.mjs');

const SECRET_MEMBERS = new Set([
  ...['deviceCode', 'device_code', 'token', 'accessToken', 'access_token', 'refreshToken', 'refresh_token', 'idToken', 'id_token'],
  ...['tokenChanged', 'refreshTokenChanged', 'idTokenChanged'],
]);

/** Every `[name, value]` in `value`, at any depth, whose name is in `names` and whose value is a string. */
function membersNamed(value: unknown, names: ReadonlySet<string>): [string, string][] {
  if (Array.isArray(value)) return value.flatMap((item) => membersNamed(item, names));
  if (typeof value !== 'object' || value === null) return [];
  const { type, value: announced } = value as { type?: unknown; value?: unknown };
  // The property announcements (`tokenChanged` and the like) carry the secret as their `value`.
  const announcement: [string, string][] = typeof type === 'string' && names.has(type) && typeof announced === 'string' ? [[type, announced]] : [];
  return [
    ...announcement,
    ...Object.entries(value).flatMap(([name, member]) =>
      names.has(name) && typeof member === 'string' ? [[name, member] as [string, string]] : membersNamed(member, names),
    ),
  ];
}

describe('examples/inspector/node.mjs', () => {
  it('relays the flow to the inspector on 127.0.0.1, sanitised, and signs in', async () => {
    const run = startCli([], { command: [process.execPath, example], timeout: 35_000 });
    // The example prints on stdout; the helper waits on stderr, so read stdout as it comes.
    let stdout = '';
    run.child.stdout!.on('data', (chunk) => (stdout += chunk));
    const line = async (pattern: RegExp) => {
      for (let waited = 0; waited < 20_000; waited += 50) {
        const match = stdout.match(pattern);
        if (match) return match;
        await new Promise((done) => setTimeout(done, 50));
      }
      throw new Error(`no ${pattern} in ${stdout}`);
    };
    const [, relayUrl] = await line(/Inspector: open (http:\/\/127\.0\.0\.1:\d+) /);
    const messages: string[] = [];
    const socket = new WebSocket(relayUrl!.replace('http:', 'ws:'));
    socket.on('message', (data) => messages.push(data.toString()));
    await new Promise((done) => socket.once('open', done));

    const [, url, userCode] = await line(/Sign in: open (\S+) \(code (\S+)\)/);
    await actAsUser(url!, userCode!, { decision: 'approve', login: 'carol' });
    const { code } = await run.done;
    socket.close();

    expect(code).toBe(0);
    expect(stdout).toMatch(/Signed in; the token expires at \d{4}-/);
    const all = messages.join('\n');
    expect(all).toMatch(/"@xstate\.snapshot"/);
    expect(all).toMatch(/"granted"/);
    // oidc-provider's access token, refresh token and device code are opaque strings: find every member that holds
    // one, wherever it sits in an event, and check that it reached the relay redacted.
    const secretMembers = messages.flatMap((message) => membersNamed(JSON.parse(message), SECRET_MEMBERS));
    const names = new Set(secretMembers.map(([name]) => name));
    for (const name of ['deviceCode', 'token', 'refreshToken', 'idToken']) expect(names).toContain(name);
    for (const [name, value] of secretMembers) expect([name, value]).toEqual([name, expect.stringMatching(/^(|\[redacted\])$/)]);
    expect(secretMembers.some(([, value]) => value === '[redacted]')).toBe(true);
    // No JSON Web Token (the ID token), whole or in part.
    expect(all).not.toMatch(/eyJ[\w-]{10,}\./);
  }, 40_000);
});
