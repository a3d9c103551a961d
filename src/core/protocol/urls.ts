/**
 * URL checks for values that come from a server or from the application.
 *
 * @module
 */

/**
 * `value` as an absolute `http:` or `https:` URL without a user name or password, or what is wrong with it, in words
 * that follow the value's name (`"must be an absolute URL"`). The one place URLs from the application, a server or
 * the command line are read.
 *
 * @see [RFC 3986 §7.6](https://www.rfc-editor.org/rfc/rfc3986#section-7.6) on userinfo that misleads
 */
export function parseHttpUrl(value: unknown): URL | string {
  if (!(typeof value === 'string' || value instanceof URL)) return 'must be a URL';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http: or https: URL';
  if (hasUserinfo(url)) return 'must not carry a user name or password';
  return url;
}

/**
 * The normalised form of `value` if it is an absolute `http:` or `https:` URL without a user name or password,
 * otherwise `null`. Any other scheme (`javascript:`, `data:`, `file:`) is refused: a verification URL is shown to a
 * user, or opened for them. So is userinfo: `https://accounts.example.com@evil.example/device` reads as
 * accounts.example.com and leads to evil.example.
 *
 * @see [RFC 8628 §3.2](https://www.rfc-editor.org/rfc/rfc8628#section-3.2)
 */
export function readHttpUrl(value: unknown): string | null {
  const url = typeof value === 'string' && value !== '' ? parseHttpUrl(value) : null;
  return url instanceof URL ? url.href : null;
}

/** Whether `url` carries a user name or password (`https://user:password@host/`). */
export function hasUserinfo(url: URL): boolean {
  return url.username !== '' || url.password !== '';
}

/**
 * Whether `url` points at this machine by a literal address or by `localhost`: 127.0.0.0/8, `[::1]`, or `localhost`
 * itself. Other names, `*.localhost` among them, go through the system resolver and may lead anywhere.
 */
export function isLoopbackUrl(url: string): boolean {
  let hostname: string;
  try {
    hostname = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return hostname === 'localhost' || hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

/** Why plain-http `url` may not carry the flow's secrets, naming its origin, for a message that adds the remedy. */
export function plainHttpProblem(url: string): string {
  return `${new URL(url).origin} is not https: device codes, tokens and secrets would travel in clear text`;
}

/**
 * Whether `url` may carry device codes, tokens and secrets: `https:`, or plain `http:` to this machine, or plain
 * `http:` anywhere when the application allowed it.
 *
 * @see [RFC 8628 §5.2](https://www.rfc-editor.org/rfc/rfc8628#section-5.2) and
 *   [RFC 6749 §3.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.1) (TLS required)
 */
export function isSecureEndpoint(url: string, allowInsecureHttp: boolean): boolean {
  return url.startsWith('https:') || allowInsecureHttp || isLoopbackUrl(url);
}
