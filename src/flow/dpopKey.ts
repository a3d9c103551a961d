/**
 * A flow's DPoP key: the application's key pair, or the one a snapshot kept, with what the next snapshot keeps of it.
 *
 * @module
 */

import { DeviceFlowError } from '../core/errors.js';
import { createDpopSigner, type DpopSigner, type SavedDpopKey } from '../core/protocol/dpop.js';

/** A flow's DPoP key: its signer, and what a snapshot keeps of it. */
export interface DpopKey {
  readonly signer: DpopSigner;
  /** What a snapshot taken now keeps. */
  saved(): SavedDpopKey;
}

/**
 * The DPoP key of a flow: `keyPair` when the application gives one (it wins, as settings given alongside a snapshot
 * do), else the key `saved` in the snapshot being resumed, else none.
 *
 * @throws {DeviceFlowError} `ClientError` when the snapshot's key could not be kept and no key pair is given, or the
 *   saved key is not a key pair.
 */
export function dpopKeyOf(keyPair: CryptoKeyPair | undefined, saved: unknown): DpopKey | null {
  if (keyPair !== undefined) return givenKey(keyPair);
  if (saved === undefined) return null;
  if (isNotSaved(saved)) {
    throw new DeviceFlowError('ClientError', `The snapshot's tokens are bound to a DPoP key it could not keep (${saved.notSaved}): pass the same key pair as dpopKeyPair`);
  }
  if (!isSavedPair(saved)) throw new DeviceFlowError('ClientError', 'The snapshot cannot be resumed: dpopKey must be a saved key pair; start a new flow with grant()');
  return restoredKey(saved);
}

function givenKey(keyPair: CryptoKeyPair): DpopKey {
  if (typeof keyPair !== 'object' || keyPair === null || !isCryptoKey(keyPair.privateKey) || !isCryptoKey(keyPair.publicKey)) {
    throw new DeviceFlowError('ClientError', 'dpopKeyPair must be a CryptoKeyPair (see generateDpopKeyPair())');
  }
  const signer = createDpopSigner(keyPair);
  let saved: SavedDpopKey = { notSaved: keyPair.privateKey.extractable ? 'its export had not finished when the snapshot was taken' : 'its private key is not extractable' };
  if (keyPair.privateKey.extractable) {
    // WebCrypto exports asynchronously; a snapshot taken before the export completes cannot keep the key.
    void Promise.all([crypto.subtle.exportKey('jwk', keyPair.privateKey), crypto.subtle.exportKey('jwk', keyPair.publicKey)]).then(
      ([privateJwk, publicJwk]) => (saved = { algorithm: signer.algorithm, privateJwk, publicJwk }),
      () => (saved = { notSaved: 'its export failed' }),
    );
  }
  return { signer, saved: () => saved };
}

function restoredKey(saved: { algorithm: string; privateJwk: JsonWebKey; publicJwk: JsonWebKey }): DpopKey {
  const keyPair = import('jose').then(async ({ importJWK }) => {
    const [privateKey, publicKey] = await Promise.all([
      importJWK(saved.privateJwk, saved.algorithm, { extractable: true }),
      importJWK(saved.publicJwk, saved.algorithm, { extractable: true }),
    ]);
    return { privateKey, publicKey } as CryptoKeyPair;
  });
  // The import can fail only on a key that passed the checks but the platform rejects; the first request says so.
  return { signer: createDpopSigner(keyPair, saved.algorithm), saved: () => saved };
}

function isCryptoKey(value: unknown): value is CryptoKey {
  return typeof value === 'object' && value !== null && typeof (value as CryptoKey).type === 'string' && typeof (value as CryptoKey).algorithm === 'object';
}

function isNotSaved(value: unknown): value is { notSaved: string } {
  return typeof value === 'object' && value !== null && typeof (value as { notSaved?: unknown }).notSaved === 'string' && Object.keys(value).length === 1;
}

const JWK_MEMBERS = /^(kty|crv|x|y|d|n|e|p|q|dp|dq|qi|alg|key_ops|ext|use|kid)$/;

function isSavedPair(value: unknown): value is { algorithm: string; privateJwk: JsonWebKey; publicJwk: JsonWebKey } {
  if (typeof value !== 'object' || value === null) return false;
  const { algorithm, privateJwk, publicJwk, ...rest } = value as Record<string, unknown>;
  return typeof algorithm === 'string' && /^(ES256|ES384|ES512|EdDSA|RS256|PS256)$/.test(algorithm) && isJwk(privateJwk, true) && isJwk(publicJwk, false) && Object.keys(rest).length === 0;
}

function isJwk(value: unknown, isPrivate: boolean): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  return (
    typeof (value as { kty?: unknown }).kty === 'string' &&
    (typeof (value as { d?: unknown }).d === 'string') === isPrivate &&
    entries.length <= 16 &&
    entries.every(([name, member]) => JWK_MEMBERS.test(name) && (typeof member === 'string' ? member.length <= 4096 : typeof member === 'boolean' || Array.isArray(member)))
  );
}
