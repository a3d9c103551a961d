/**
 * URL checks for values that come from a server or from the application.
 *
 * @module
 */

/**
 * The normalised form of `value` if it is an absolute `http:` or `https:` URL, otherwise `null`. Any other scheme
 * (`javascript:`, `data:`, `file:`) is refused: a verification URL is shown to a user, or opened for them.
 *
 * @see [RFC 8628 §3.2](https://www.rfc-editor.org/rfc/rfc8628#section-3.2)
 */
export function readHttpUrl(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
}

/** Whether `url` points at this machine: 127.0.0.0/8, `[::1]`, or `localhost` and its subdomains. */
export function isLoopbackUrl(url: string): boolean {
  let hostname: string;
  try {
    hostname = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return hostname === 'localhost' || hostname.endsWith('.localhost') || hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname);
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
