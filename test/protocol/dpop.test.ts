/**
 * DPoP proofs (RFC 9449 §4): createDpopSigner's proofs checked by jose as a server checks them, the key pairs
 * generateDpopKeyPair makes, and readDpopNonce's reading of the DPoP-Nonce header (§8.1).
 */
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, exportJWK, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { DeviceFlowError } from '../../src/core/errors.js';
import { createDpopSigner, dpopAlgorithmOf, generateDpopKeyPair, readDpopNonce } from '../../src/core/protocol/dpop.js';
import { rejectionOf, thrownBy } from '../helpers/expectError.js';

const NOW = Date.UTC(2031, 4, 6, 7, 8, 9, 987);
const TOKEN_URL = 'https://as.example/oauth/token';

const KEY_TYPES: [algorithm: string, parameters: RsaHashedKeyGenParams | EcKeyGenParams | Algorithm][] = [
  ['ES256', { name: 'ECDSA', namedCurve: 'P-256' }],
  ['ES384', { name: 'ECDSA', namedCurve: 'P-384' }],
  ['ES512', { name: 'ECDSA', namedCurve: 'P-521' }],
  ['EdDSA', { name: 'Ed25519' }],
  ['RS256', { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }],
  ['PS256', { name: 'RSA-PSS', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }],
];

async function keyPairOf(parameters: (typeof KEY_TYPES)[number][1], extractable = false): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(parameters, extractable, ['sign', 'verify'])) as CryptoKeyPair;
}

/** The proof verified as a server verifies it: by the key in its own header, typ dpop+jwt. */
async function verified(proof: string) {
  return jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', currentDate: new Date(NOW) });
}

describe('createDpopSigner', () => {
  it.each(KEY_TYPES)('makes %s proofs that verify by the key in their header', async (algorithm, parameters) => {
    const keyPair = await keyPairOf(parameters);
    const signer = createDpopSigner(keyPair);
    expect(signer.algorithm).toBe(algorithm);
    const proof = await signer.proof({ method: 'POST', url: TOKEN_URL, nonce: null, now: NOW });
    const { payload, protectedHeader } = await verified(proof);
    expect(protectedHeader).toMatchObject({ typ: 'dpop+jwt', alg: algorithm });
    expect(payload).toEqual({ jti: expect.any(String), htm: 'POST', htu: TOKEN_URL, iat: Math.floor(NOW / 1000) });
    // The header carries the public key and nothing private: the key pair's own public key.
    const publicJwk = await exportJWK(keyPair.publicKey);
    expect(protectedHeader.jwk).not.toHaveProperty('d');
    expect(Object.keys(protectedHeader.jwk!).every((name) => ['kty', 'crv', 'x', 'y', 'n', 'e'].includes(name))).toBe(true);
    expect(await calculateJwkThumbprint(protectedHeader.jwk!)).toBe(await calculateJwkThumbprint(publicJwk));
    expect(await signer.thumbprint()).toBe(await calculateJwkThumbprint(publicJwk));
  });

  it('names the URL without its query and fragment in htu, and the method in htm', async () => {
    const signer = createDpopSigner(await generateDpopKeyPair());
    const proof = await signer.proof({ method: 'GET', url: 'https://rs.example:8443/api/v1/me?fields=all&token=x#section', nonce: null, now: NOW });
    const { payload } = await verified(proof);
    expect(payload.htu).toBe('https://rs.example:8443/api/v1/me');
    expect(payload.htm).toBe('GET');
    // The default port is not named, as a server that normalises the URL compares it.
    const onDefaultPort = await verified(await signer.proof({ method: 'POST', url: 'https://as.example:443/token?', nonce: null, now: NOW }));
    expect(onDefaultPort.payload.htu).toBe('https://as.example/token');
  });

  it('carries ath, the base64url SHA-256 of the access token, and the nonce, when given', async () => {
    const signer = createDpopSigner(await generateDpopKeyPair());
    const accessToken = 'Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU';
    const proof = await signer.proof({ method: 'GET', url: 'https://rs.example/me', nonce: 'eyJ7S_zG.eyJH0-Z.HX4w-7v', accessToken, now: NOW });
    const { payload } = await verified(proof);
    expect(payload.ath).toBe(createHash('sha256').update(accessToken).digest('base64url'));
    expect(payload.nonce).toBe('eyJ7S_zG.eyJH0-Z.HX4w-7v');
    // The proof carries the token's hash, never the token.
    expect(proof).not.toContain(accessToken);
    expect(Buffer.from(proof.split('.')[1]!, 'base64url').toString()).not.toContain(accessToken);
  });

  it('gives every proof its own jti, and an iat from now in whole seconds', async () => {
    const signer = createDpopSigner(await generateDpopKeyPair('EdDSA'));
    const proofs = await Promise.all(Array.from({ length: 20 }, (_, index) => signer.proof({ method: 'POST', url: TOKEN_URL, nonce: null, now: NOW + index * 1000 })));
    const payloads = await Promise.all(proofs.map(async (proof) => (await verified(proof)).payload));
    expect(new Set(payloads.map((payload) => payload.jti)).size).toBe(20);
    expect(payloads.every((payload) => typeof payload.jti === 'string' && payload.jti.length >= 16)).toBe(true);
    expect(payloads.map((payload) => payload.iat)).toEqual(Array.from({ length: 20 }, (_, index) => Math.floor(NOW / 1000) + index));
  });

  it('takes a key pair still being imported, with its algorithm named', async () => {
    const keyPair = await generateDpopKeyPair();
    const signer = createDpopSigner(Promise.resolve(keyPair), 'ES256');
    const { protectedHeader } = await verified(await signer.proof({ method: 'POST', url: TOKEN_URL, nonce: null, now: NOW }));
    expect(protectedHeader.alg).toBe('ES256');
  });

  it('refuses an HMAC key, a public key, a key of another curve or hash, and what is no key, with ClientError', async () => {
    const hmac = (await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])) as CryptoKey;
    const { publicKey } = await generateDpopKeyPair();
    const sha384 = await keyPairOf({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-384' } as RsaHashedKeyGenParams);
    const cases: [unknown, RegExp][] = [
      [{ privateKey: hmac, publicKey: hmac }, /not HMAC/],
      [{ privateKey: publicKey, publicKey }, /private key/],
      [sha384, /RSA with SHA-256/],
      [{ privateKey: 'not a key', publicKey: 'not a key' }, /CryptoKeyPair/],
      [{}, /CryptoKeyPair/],
    ];
    for (const [keyPair, message] of cases) {
      const error = thrownBy(() => createDpopSigner(keyPair as CryptoKeyPair));
      expect(error.code).toBe('ClientError');
      expect(error.message).toMatch(message);
    }
    // A key pair still being imported cannot be inspected: its algorithm must be named.
    const pending = Promise.resolve(await generateDpopKeyPair());
    expect(thrownBy(() => createDpopSigner(pending)).code).toBe('ClientError');
  });

  it('names the algorithm of each key it takes', async () => {
    for (const [algorithm, parameters] of KEY_TYPES) expect(dpopAlgorithmOf((await keyPairOf(parameters)).privateKey)).toBe(algorithm);
  });
});

describe('generateDpopKeyPair', () => {
  it('makes a non-extractable ES256 key pair by default', async () => {
    const { privateKey, publicKey } = await generateDpopKeyPair();
    expect(privateKey.algorithm).toMatchObject({ name: 'ECDSA', namedCurve: 'P-256' });
    expect(privateKey.extractable).toBe(false);
    expect(privateKey.usages).toEqual(['sign']);
    expect(publicKey.type).toBe('public');
    await expect(crypto.subtle.exportKey('jwk', privateKey)).rejects.toThrow();
  });

  it('makes Ed25519 keys for EdDSA, and extractable ones when asked', async () => {
    const { privateKey } = await generateDpopKeyPair('EdDSA', { extractable: true });
    expect(privateKey.algorithm.name).toBe('Ed25519');
    expect(privateKey.extractable).toBe(true);
    expect(await crypto.subtle.exportKey('jwk', privateKey)).toMatchObject({ kty: 'OKP', crv: 'Ed25519', d: expect.any(String) });
  });

  it('refuses another algorithm with ClientError', async () => {
    for (const algorithm of ['RS256', 'HS256', 'none', '']) {
      const error = await rejectionOf(generateDpopKeyPair(algorithm as 'ES256'));
      expect(error).toBeInstanceOf(DeviceFlowError);
      expect(error.code).toBe('ClientError');
    }
  });
});

describe('readDpopNonce', () => {
  const nonceOf = (value: string | null) => readDpopNonce({ get: (name) => (name === 'dpop-nonce' ? value : null) });

  it('reads a nonce of visible ASCII characters', () => {
    expect(nonceOf('eyJ7S_zG.eyJH0-Z.HX4w-7v')).toBe('eyJ7S_zG.eyJH0-Z.HX4w-7v');
    expect(nonceOf('!#$%&()*+,-./:;<=>?@[]^_`{|}~')).toBe('!#$%&()*+,-./:;<=>?@[]^_`{|}~');
    expect(nonceOf('x'.repeat(512))).toBe('x'.repeat(512));
    expect(readDpopNonce(new Headers({ 'DPoP-Nonce': 'from-real-headers' }))).toBe('from-real-headers');
  });

  it.each([
    ['absent', null],
    ['empty', ''],
    ['with a double quote', 'abc"def'],
    ['with a backslash', 'abc\\def'],
    ['with a space', 'abc def'],
    ['with a tab', 'abc\tdef'],
    ['with a control character', 'abc\u0001def'],
    ['with DEL', 'abc\u007fdef'],
    ['with a line break', 'abc\r\nSet-Cookie: x=y'],
    ['with a character beyond ASCII', 'abcdéf'],
    ['over 512 characters', 'x'.repeat(513)],
  ])('refuses one %s', (_case, value) => {
    expect(nonceOf(value)).toBeNull();
  });
});
