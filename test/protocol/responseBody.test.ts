import { describe, expect, it } from 'vitest';
import { parseResponseBody } from '../../src/core/protocol/responseBody.js';
import { thrownBy as failure } from '../helpers/expectError.js';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('parseResponseBody', () => {
  it('parses a JSON object whatever the status', () => {
    expect(parseResponseBody(bytes('{"error":"authorization_pending"}'), 'application/json', 200)).toEqual({ error: 'authorization_pending' });
    expect(parseResponseBody(bytes('{"error":"slow_down"}'), 'application/json; charset=utf-8', 428)).toEqual({ error: 'slow_down' });
  });

  it('parses JSON sent with a wrong or missing content type', () => {
    expect(parseResponseBody(bytes(' {"a":1}\n'), 'text/html', 200)).toEqual({ a: 1 });
    expect(parseResponseBody(bytes('{"a":1}'), null)).toEqual({ a: 1 });
  });

  it('parses form-encoded bodies, as GitHub sends without Accept: application/json', () => {
    const members = parseResponseBody(
      bytes('device_code=3584d83530557fdd1f46af8289938c8ef79f9dc5&expires_in=900&interval=5&user_code=WDJB-MJHT&verification_uri=https%3A%2F%2Fgithub.com%2Flogin%2Fdevice'),
      'application/x-www-form-urlencoded; charset=utf-8',
    );
    expect(members).toEqual({
      device_code: '3584d83530557fdd1f46af8289938c8ef79f9dc5',
      expires_in: '900',
      interval: '5',
      user_code: 'WDJB-MJHT',
      verification_uri: 'https://github.com/login/device',
    });
    expect(parseResponseBody(bytes('error=slow_down&error_description=Too+many+requests&interval=10'), 'text/plain')).toEqual({
      error: 'slow_down',
      error_description: 'Too many requests',
      interval: '10',
    });
  });

  it('keeps the last of duplicated members, in JSON and in forms', () => {
    expect(parseResponseBody(bytes('{"interval":5,"interval":10}'), 'application/json')).toEqual({ interval: 10 });
    expect(parseResponseBody(bytes('interval=5&interval=10'), 'application/x-www-form-urlencoded')).toEqual({ interval: '10' });
  });

  it.each([
    ['an empty body', '', 'application/json', /empty/],
    ['whitespace only', '  \n', 'application/json', /empty/],
    ['an HTML error page', '<html><body>502 Bad Gateway</body></html>', 'text/html', /neither JSON nor form/],
    ['plain text', 'Service Unavailable', 'text/plain', /neither JSON nor form/],
    ['truncated JSON', '{"access_token":"abc', 'application/json', /malformed JSON/],
    ['a JSON array', '[1,2]', 'application/json', /not an object/],
    ['a JSON string', '"ok"', 'application/json', /not an object/],
    ['JSON null', 'null', 'application/json', /not an object/],
  ])('refuses %s with ServerError', (_name, text, contentType, message) => {
    const error = failure(() => parseResponseBody(bytes(text), contentType, 502));
    expect(error.code).toBe('ServerError');
    expect(error.message).toMatch(message);
    expect(error.status).toBe(502);
  });

  it('refuses a form-looking body sent as HTML', () => {
    expect(failure(() => parseResponseBody(bytes('a=b'), 'text/html')).code).toBe('ServerError');
  });

  it('refuses bytes that are not UTF-8', () => {
    const error = failure(() => parseResponseBody(new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 'application/json'));
    expect(error.code).toBe('ServerError');
    expect(error.message).toMatch(/UTF-8/);
  });
});
