/**
 * Nonce generation.
 *
 * @module
 */

/**
 * A fresh nonce: 32 base64url characters (192 bits) from the platform's cryptographic random source, as Qt generates
 * one.
 *
 * @see [OpenID Connect Core §3.1.2.1](https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest) (`nonce`)
 */
export function createNonce(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_');
}
