import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postForm } from '../../src/http/postForm.js';
import { rejectionOf } from '../helpers/expectError.js';
import { LoopbackServer } from '../helpers/loopbackServer.js';

let server: LoopbackServer;
beforeAll(async () => {
  server = await LoopbackServer.start();
  server.handle('/hang', () => 'handled');
  server.handle('/trickle', (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.write('{"a":');
    return 'handled';
  });
  server.handle('/big', { json: { padding: 'x'.repeat(2048) } });
  server.handle('/ok', { status: 418, headers: { 'x-test': 'yes' }, json: { ok: true } });
});
afterAll(() => server.close());

const send = (path: string, options: Partial<Parameters<typeof postForm>[1]> = {}) =>
  postForm({ url: server.url(path), headers: new Headers(), body: new URLSearchParams({ a: 'b c' }) }, { timeout: 5000, maxResponseBytes: 1 << 20, ...options });

describe('postForm', () => {
  it('resolves with any status, its headers and the whole body', async () => {
    const response = await send('/ok');
    expect(response.status).toBe(418);
    expect(response.headers.get('x-test')).toBe('yes');
    expect(new TextDecoder().decode(response.body)).toBe('{"ok":true}');
    expect(server.requestsTo('/ok')[0]!.body).toBe('a=b+c');
  });

  it('fails with NetworkError when no answer comes in time', async () => {
    const error = await rejectionOf(send('/hang', { timeout: 100 }));
    expect(error.code).toBe('NetworkError');
    expect(error.message).toMatch(/within 0.1 s/);
  });

  it('counts the body in the timeout: a body that never ends fails too', async () => {
    expect((await rejectionOf(send('/trickle', { timeout: 150 }))).code).toBe('NetworkError');
  });

  it('refuses a body over the size limit with ServerError', async () => {
    const error = await rejectionOf(send('/big', { maxResponseBytes: 1000 }));
    expect(error.code).toBe('ServerError');
    expect(error.message).toMatch(/larger than 1000 bytes/);
    expect(error.status).toBe(200);
  });

  it("rejects with the signal's reason when aborted, even before sending", async () => {
    const controller = new AbortController();
    const pending = send('/hang', { signal: controller.signal });
    const reason = new Error('user cancelled');
    setTimeout(() => controller.abort(reason), 20);
    await expect(pending).rejects.toBe(reason);
    await expect(send('/ok', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });
});
