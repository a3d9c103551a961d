/**
 * Redaction of secrets in every spelling a server's encoder gives them, and the sanitised copy of a thrown value that
 * may stand as an error's `cause`.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DeviceFlowError } from '../../src/core/errors.js';
import { REDACTED, redactForms, redactSecrets, sanitizeCause, secretForms } from '../../src/core/redact.js';

// An Azure-style client secret (`~`, `.`), a Google-style refresh token (`1//`), and one with every awkward character.
const SECRETS = ['Q8~vX.abc_DEF-123~xyz', '1//0gRefresh+Token/x=', `p!a*s's(w)o"r\\d/ é😀 +&<>`];

/** Python's `urllib.parse.quote`: keeps `/`, encodes `!*'()` and `~`-free text as `encodeURIComponent` does otherwise. */
function pythonQuote(text: string): string {
  return encodeURIComponent(text)
    .replace(/%2F/g, '/')
    .replace(/[!'()*]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Percent escapes in alternating case: `%2F`, then `%2b`. */
function mixedCase(encoded: string): string {
  let upper = false;
  return encoded.replace(/%[0-9A-Fa-f]{2}/g, (escape) => ((upper = !upper) ? escape.toUpperCase() : escape.toLowerCase()));
}

/** PHP's `json_encode`: JSON with `\/` for `/` and `\uXXXX` for everything beyond ASCII. */
function phpJsonEncode(text: string): string {
  return JSON.stringify(text)
    .slice(1, -1)
    .replace(/\//g, '\\/')
    .replace(/[\u0080-\uffff]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const ENCODERS: Record<string, (text: string) => string> = {
  'as sent': (text) => text,
  encodeURIComponent,
  'encodeURIComponent, lower-case hex': (text) => encodeURIComponent(text).replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()),
  'a form body (URLSearchParams)': (text) => new URLSearchParams({ s: text }).toString().slice(2),
  "Python's quote": pythonQuote,
  "Python's quote, mixed-case escapes": (text) => mixedCase(pythonQuote(text)),
  'encodeURIComponent, mixed-case escapes': (text) => mixedCase(encodeURIComponent(text)),
  'JSON.stringify': (text) => JSON.stringify(text).slice(1, -1),
  "PHP's json_encode": phpJsonEncode,
  'HTML character references': (text) => text.replace(/[^A-Za-z0-9_.-]/gu, (character) => `&#x${character.codePointAt(0)!.toString(16)};`),
};

describe('redactForms', () => {
  const forms = secretForms(SECRETS);

  describe.each(Object.entries(ENCODERS))('finds secrets echoed %s', (_name, encode) => {
    it.each(SECRETS)('%s', (secret) => {
      const echoed = `the server says: bad credentials ${encode(secret)}; try again`;
      expect(redactForms(echoed, forms)).toBe(`the server says: bad credentials ${REDACTED}; try again`);
    });
  });

  it('leaves text without secrets as it is, and short secrets inside longer words', () => {
    const short = secretForms(['S3/cr']);
    expect(redactForms('a normal description', forms)).toBe('a normal description');
    expect(redactForms('xS3/cry and S3%2fcr', short)).toBe(`xS3/cry and ${REDACTED}`);
  });

  it('replaces a secret that contains another whole', () => {
    expect(redactForms('token abcd/efgh-long', secretForms(['abcd', 'abcd/efgh-long']))).toBe(`token ${REDACTED}`);
  });
});

describe('sanitizeCause', () => {
  const forms = secretForms(['device-code-secret', 'client/secret~1']);
  const body = new URLSearchParams({ device_code: 'device-code-secret', client_secret: 'client/secret~1' });

  it('keeps the name, message, stack and code of an error, redacted, and nothing else it carries', () => {
    const thrown = Object.assign(new TypeError(`cannot send ${body}`), { code: 'ERR_SIGNING', requestBody: body.toString(), params: body });
    const copy = sanitizeCause(thrown, forms) as Error & { code?: string };
    expect(copy).toBeInstanceOf(Error);
    expect(copy).not.toBe(thrown);
    expect([copy.name, copy.code]).toEqual(['TypeError', 'ERR_SIGNING']);
    expect(copy.message).toBe(`cannot send device_code=${REDACTED}&client_secret=${REDACTED}`);
    expect(copy.stack).toMatch(/^TypeError: cannot send device_code=\[redacted\]/);
    expect(Object.keys(copy)).not.toContain('requestBody');
    expect(inspect(copy, { depth: Infinity, showHidden: true })).not.toMatch(/device-code-secret|client\/secret~1|client%2Fsecret%7E1/);
  });

  it('sanitises nested causes and the errors of an AggregateError, and describes what is not an error', () => {
    const aggregate = new AggregateError([Object.assign(new Error('first'), { body }), 'leaking device-code-secret'], 'all failed', { cause: { params: body } });
    const copy = sanitizeCause(aggregate, forms) as Error & { errors: unknown[] };
    expect(copy.errors[0]).toMatchObject({ message: 'first' });
    expect(copy.errors[1]).toBe(`leaking ${REDACTED}`);
    expect((copy.cause as Error).message).toBe('A value of type Object was thrown');
    expect(inspect(copy, { depth: Infinity, showHidden: true })).not.toMatch(/device-code-secret|client\/secret~1|client%2Fsecret%7E1/);
  });

  it('survives a thrown object whose getters throw', () => {
    const hostile = new Error('x');
    Object.defineProperty(hostile, 'message', { get: () => { throw new Error('no'); } });
    Object.defineProperty(hostile, 'cause', { get: () => { throw new Error('no'); } });
    expect((sanitizeCause(hostile, forms) as Error).message).toBe('');
  });
});

describe('redactSecrets', () => {
  it('returns a new error without the extra members the original carried', () => {
    const original = Object.assign(new DeviceFlowError('ClientError', 'signing failed for device-code-secret'), { requestBody: 'device_code=device-code-secret' });
    const copy = redactSecrets(original, ['device-code-secret']);
    expect(copy).not.toBe(original);
    expect(copy.message).toBe(`signing failed for ${REDACTED}`);
    expect(inspect(copy, { depth: Infinity })).not.toContain('device-code-secret');
    expect(JSON.stringify(copy)).not.toContain('device-code-secret');
  });
});
