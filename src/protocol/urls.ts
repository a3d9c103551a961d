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
