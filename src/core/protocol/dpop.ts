/**
 * DPoP (RFC 9449): a key pair the client holds, and the proof JWT that shows it on each request. WebCrypto and `jose`
 * only, loaded when first used, so that flows without DPoP do not carry them.
 *
 * @module
 */

import { DeviceFlowError } from '../errors.js';

/**
 * The algorithms {@link generateDpopKeyPair} makes keys for: ES256 (every DPoP server accepts it) and EdDSA
 * (Ed25519, where the platform's WebCrypto has it: Node.js 20, recent browsers).
 *
 * @see [RFC 9449 §4.2](https://www.rfc-editor.org/rfc/rfc9449#section-4.2)
 */
export type DpopAlgorithm = 'ES256' | 'EdDSA';

/**
 * A new key pair for DPoP. Keep it, and hand it to every flow that should use the same tokens: the tokens are bound to
 * it. Not extractable by default, so that script running later cannot read the private key; pass `extractable:
 * true` to have a flow's snapshot keep it.
 *
 * @see [RFC 9449 §2](https://www.rfc-editor.org/rfc/rfc9449#section-2)
 * @example
 * ```ts
 * const flow = new OAuth2DeviceAuthorizationFlow({ ...options, dpopKeyPair: await generateDpopKeyPair() });
 * ```
 */
export async function generateDpopKeyPair(algorithm: DpopAlgorithm = 'ES256', { extractable = false }: { extractable?: boolean } = {}): Promise<CryptoKeyPair> {
  if (algorithm !== 'ES256' && algorithm !== 'EdDSA') throw new DeviceFlowError('ClientError', 'generateDpopKeyPair() takes ES256 or EdDSA');
  const { generateKeyPair } = await import('jose');
  return generateKeyPair(algorithm, { extractable, ...(algorithm === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
}

/**
 * What one proof is for: the request's method and URL, the server's latest nonce, and, towards a resource server, the
 * access token it goes with.
 *
 * @see [RFC 9449 §4.2](https://www.rfc-editor.org/rfc/rfc9449#section-4.2)
 */
export interface DpopProofRequest {
  method: string;
  url: string;
  /** The `DPoP-Nonce` the server last sent, or `null`. */
  nonce: string | null;
  /** The access token the request carries (its hash goes into `ath`), when it carries one. */
  accessToken?: string;
  /** The current time in epoch ms. */
  now: number;
}

/**
 * Makes DPoP proofs with one key pair.
 *
 * @see [RFC 9449 §4](https://www.rfc-editor.org/rfc/rfc9449#section-4)
 */
export interface DpopSigner {
  /** The JWS algorithm of the proofs. */
  readonly algorithm: string;
  /** The proof JWT for one request: a fresh `jti`, `iat`, `htm`, `htu`, and `nonce` and `ath` when given. */
  proof(request: DpopProofRequest): Promise<string>;
  /** The JWK SHA-256 thumbprint of the public key: the `jkt` a bound token names (RFC 9449 §6). */
  thumbprint(): Promise<string>;
}

/**
 * A {@link DpopSigner} for `keyPair`, whose algorithm follows from the key: ES256/384/512 (ECDSA P-256/384/521), EdDSA
 * (Ed25519), RS256 (RSASSA-PKCS1-v1_5 with SHA-256) or PS256 (RSA-PSS with SHA-256). A key pair still being imported
 * (a promise) needs its `algorithm` named.
 *
 * @throws {DeviceFlowError} `ClientError` when the key is of another kind.
 * @see [RFC 9449 §4.2](https://www.rfc-editor.org/rfc/rfc9449#section-4.2)
 */
export function createDpopSigner(keyPair: CryptoKeyPair | Promise<CryptoKeyPair>, algorithm = dpopAlgorithmOf((keyPair as CryptoKeyPair).privateKey)): DpopSigner {
  const ready = Promise.resolve(keyPair);
  // The public key goes into every proof's header: exported once.
  let publicJwk: Promise<Record<string, unknown>> | undefined;
  const exportPublic = async () => {
    const [{ exportJWK }, { publicKey }] = await Promise.all([import('jose'), ready]);
    const { kty, crv, x, y, n, e } = await exportJWK(publicKey);
    return Object.fromEntries(Object.entries({ kty, crv, x, y, n, e }).filter(([, value]) => value !== undefined));
  };
  return {
    algorithm,
    async proof({ method, url, nonce, accessToken, now }) {
      const [{ SignJWT, base64url }, jwk, { privateKey }] = await Promise.all([import('jose'), (publicJwk ??= exportPublic()), ready]);
      const target = new URL(url);
      const claims: Record<string, unknown> = {
        jti: crypto.randomUUID(),
        htm: method,
        // Without query and fragment (RFC 9449 §4.2).
        htu: `${target.origin}${target.pathname}`,
        iat: Math.floor(now / 1000),
      };
      if (nonce !== null) claims['nonce'] = nonce;
      if (accessToken !== undefined) claims['ath'] = base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken))));
      return new SignJWT(claims).setProtectedHeader({ typ: 'dpop+jwt', alg: algorithm, jwk }).sign(privateKey);
    },
    async thumbprint() {
      const { calculateJwkThumbprint } = await import('jose');
      return calculateJwkThumbprint((await (publicJwk ??= exportPublic())) as Parameters<typeof calculateJwkThumbprint>[0]);
    },
  };
}

/**
 * The JWS algorithm of a private key, from its WebCrypto parameters.
 *
 * @throws {DeviceFlowError} `ClientError` for a key DPoP cannot use.
 * @see [RFC 9449 §4.2](https://www.rfc-editor.org/rfc/rfc9449#section-4.2)
 */
export function dpopAlgorithmOf(key: CryptoKey): string {
  if (typeof key !== 'object' || key === null || typeof key.algorithm !== 'object') throw new DeviceFlowError('ClientError', 'The DPoP key pair must be a CryptoKeyPair');
  const { name, namedCurve, hash } = key.algorithm as { name: string; namedCurve?: string; hash?: { name: string } };
  // A secret (HMAC) key is of the wrong kind, which the check of the algorithm below says; a public key is the wrong half.
  if (key.type === 'secret') throw new DeviceFlowError('ClientError', `A DPoP key must be an asymmetric key pair (ECDSA, Ed25519, or RSA with SHA-256), not ${name}`);
  if (key.type !== 'private') throw new DeviceFlowError('ClientError', 'The DPoP key pair must hold a private key');
  if (name === 'ECDSA') {
    const algorithm = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[namedCurve ?? ''];
    if (algorithm !== undefined) return algorithm;
  }
  if (name === 'Ed25519') return 'EdDSA';
  if (name === 'RSASSA-PKCS1-v1_5' && hash?.name === 'SHA-256') return 'RS256';
  if (name === 'RSA-PSS' && hash?.name === 'SHA-256') return 'PS256';
  throw new DeviceFlowError('ClientError', `A DPoP key must be ECDSA (P-256, P-384, P-521), Ed25519, or RSA with SHA-256, not ${name}`);
}

// RFC 9449 §8.1: a nonce is one or more of the visible ASCII characters but '"' and '\'.
const NONCE = /^[\x21\x23-\x5b\x5d-\x7e]{1,512}$/;

/**
 * The `DPoP-Nonce` header's value, or `null` when absent or not a nonce.
 *
 * @see [RFC 9449 §8.1](https://www.rfc-editor.org/rfc/rfc9449#section-8.1)
 */
export function readDpopNonce(headers: { get(name: string): string | null }): string | null {
  const value = headers.get('dpop-nonce');
  return value !== null && NONCE.test(value) ? value : null;
}

/**
 * The DPoP key as a snapshot keeps it: the key pair as JWKs when the private key is extractable (the snapshot is a
 * credential already: it holds the tokens bound to it), or why it is not there.
 *
 * @see [RFC 9449 §2](https://www.rfc-editor.org/rfc/rfc9449#section-2)
 * @see [RFC 7517](https://www.rfc-editor.org/rfc/rfc7517) for the JWK format
 */
export type SavedDpopKey =
  | { algorithm: string; privateJwk: JsonWebKey; publicJwk: JsonWebKey }
  /** The key could not be kept: the flow that resumes the snapshot must be given the same key pair again. */
  | { notSaved: string };
