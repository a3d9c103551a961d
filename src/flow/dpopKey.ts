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
    // The reason is quoted only when it reads as one: a snapshot is outside data, and its text ends up in logs.
    const reason = /^[\x20-\x7e]{1,200}$/.test(saved.notSaved) ? ` (${saved.notSaved})` : '';
    throw new DeviceFlowError('ClientError', `The snapshot's tokens are bound to a DPoP key it could not keep${reason}: pass the same key pair as dpopKeyPair`);
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
    try {
      const [privateKey, publicKey] = await Promise.all([
        importJWK(saved.privateJwk, saved.algorithm, { extractable: true }),
        importJWK(saved.publicJwk, saved.algorithm, { extractable: true }),
      ]);
      return { privateKey, publicKey } as CryptoKeyPair;
    } catch {
      // Neither the platform's words nor the key: only what to do.
      throw new DeviceFlowError('ClientError', `The snapshot's DPoP key is not a ${saved.algorithm} key pair the platform can use: pass the key pair as dpopKeyPair, or start a new flow with grant()`);
    }
  });
  // The import can fail only on a key that passed the checks but the platform rejects; the first request that needs
  // the key says so. Until then the rejection is not unhandled (Node.js would end the process over it).
  keyPair.catch(() => undefined);
  return { signer: createDpopSigner(keyPair, saved.algorithm), saved: () => saved };
}

function isCryptoKey(value: unknown): value is CryptoKey {
  return typeof value === 'object' && value !== null && typeof (value as CryptoKey).type === 'string' && typeof (value as CryptoKey).algorithm === 'object';
}

function isNotSaved(value: unknown): value is { notSaved: string } {
  return typeof value === 'object' && value !== null && typeof (value as { notSaved?: unknown }).notSaved === 'string' && Object.keys(value).length === 1;
}

const JWK_MEMBERS = /^(kty|crv|x|y|d|n|e|p|q|dp|dq|qi|alg|key_ops|ext|use|kid)$/;
const KEY_OPERATIONS = /^(sign|verify)$/;

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
    entries.every(([name, member]) => JWK_MEMBERS.test(name) && jwkMemberFits(name, member))
  );
}

/** `ext` is a boolean, `key_ops` a short list of signing operations, every other member a string of key size. */
function jwkMemberFits(name: string, member: unknown): boolean {
  if (name === 'ext') return typeof member === 'boolean';
  if (name === 'key_ops') return Array.isArray(member) && member.length <= 2 && member.every((operation) => typeof operation === 'string' && KEY_OPERATIONS.test(operation));
  return typeof member === 'string' && member.length <= 4096;
}
