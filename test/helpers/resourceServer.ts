/**
 * A protected resource for DPoP and bearer tests: one API on 127.0.0.1 that checks an access token the way RFC 9449
 * §7 and RFC 6750 ask a resource server to, asks the authorization server about the token by introspection (RFC
 * 7662; the development server's `introspect()`), and records what it saw and why it refused, so that tests can
 * assert on the server's side what the client sent.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose';

/** How to start the resource server. */
export interface ResourceServerOptions {
  /** Asks the authorization server about a token: an RFC 7662 introspection response (`active`, `sub`, `cnf.jkt`…). */
  introspect(token: string): Promise<Record<string, unknown>>;
  /** Every DPoP proof must carry the nonce the server issued (RFC 9449 §9); off by default. */
  requireNonce?: boolean;
}

/** A request the resource server answered. */
export interface ResourceRequest {
  method: string;
  /** The request target as sent, with its query. */
  url: string;
  /** The scheme of the `Authorization` header: `none` without one, `other` for any other scheme (or a malformed header). */
  scheme: 'DPoP' | 'Bearer' | 'none' | 'other';
  /** Whether a DPoP proof came and passed every check (signature, `htm`, `htu`, `iat`, `jti`, `ath`, nonce); `undefined` when none came. */
  proofValid: boolean | undefined;
  /** The DPoP proof's claims, when its signature verified. */
  proofClaims?: Record<string, unknown>;
  status: number;
  /** Why it was refused, in words; `undefined` when it was served. */
  refused: string | undefined;
}

/** A running resource server. */
export interface ResourceServer {
  /** Its origin. */
  readonly origin: string;
  /** `GET` or `POST` here answers `{ sub, method, body }` to a request with a good token (and proof). */
  readonly whoamiUrl: string;
  /** The nonce proofs must carry now (when `requireNonce`). */
  readonly nonce: string;
  /** Every request, in order. */
  readonly requests: readonly ResourceRequest[];
  /** Issues a new nonce: a proof with the old one is then answered `use_dpop_nonce`, as after a server's rotation. */
  rotateNonce(): string;
  close(): Promise<void>;
}

/** Asymmetric JWS algorithms only: a DPoP proof is signed with a private key whose public half is in its header. */
const PROOF_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA', 'Ed25519'];

/** How far a proof's `iat` may be from the server's clock, in seconds (RFC 9449 §11.1 leaves the window to the server). */
const IAT_WINDOW = 60;

class Refusal extends Error {
  constructor(
    readonly scheme: 'DPoP' | 'Bearer',
    readonly error: 'invalid_token' | 'invalid_dpop_proof' | 'use_dpop_nonce' | 'invalid_request' | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** Starts the resource server on 127.0.0.1. */
export async function startResourceServer(options: ResourceServerOptions): Promise<ResourceServer> {
  const requests: ResourceRequest[] = [];
  const seenJtis = new Set<string>();
  let nonce = randomBytes(16).toString('base64url');
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`resource server: ${String(error)}`);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    origin,
    whoamiUrl: `${origin}/api/whoami`,
    get nonce() {
      return nonce;
    },
    requests,
    rotateNonce: () => (nonce = randomBytes(16).toString('base64url')),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const authorization = /^(\S+) +(\S+)$/.exec(req.headers.authorization ?? '');
    const scheme = schemeOf(req.headers.authorization, authorization?.[1]);
    const record: ResourceRequest = { method, url, scheme, proofValid: undefined, status: 0, refused: undefined };
    requests.push(record);

    const reply = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
      res.end(JSON.stringify(json));
    };
    const path = new URL(url, origin).pathname;
    if (path !== '/api/whoami' || !['GET', 'POST'].includes(method)) {
      record.refused = 'no such resource';
      return reply(404, { error: 'not_found' });
    }

    try {
      const token = authorization?.[2];
      if (token === undefined || (scheme !== 'DPoP' && scheme !== 'Bearer')) throw new Refusal('DPoP', undefined, 'no DPoP or Bearer credentials');
      const proof = scheme === 'DPoP' ? await checkProof(req, method, path, token, record) : undefined;
      const info = await options.introspect(token);
      if (info.active !== true) throw new Refusal(scheme, 'invalid_token', 'the token is not active');
      const jkt = (info.cnf as { jkt?: unknown } | undefined)?.jkt;
      // RFC 9449 §7.2: a DPoP-bound token presented as a bearer token is a downgrade, not a bearer token.
      if (scheme === 'Bearer' && jkt !== undefined) throw new Refusal('Bearer', 'invalid_token', 'a DPoP-bound token sent with the Bearer scheme');
      // RFC 9449 §4.3 step 12: the proof's key must be the one the token is bound to; an unbound token has none. (A
      // client that sends one with the DPoP scheme has mistaken what the authorization server gave it.)
      if (scheme === 'DPoP' && jkt === undefined) throw new Refusal('DPoP', 'invalid_token', 'the token is not DPoP-bound');
      if (proof !== undefined && proof !== jkt) throw new Refusal('DPoP', 'invalid_token', 'the proof key is not the key the token is bound to (cnf.jkt)');
      reply(200, { sub: info.sub, method, body });
    } catch (error) {
      if (!(error instanceof Refusal)) {
        record.refused = `the server failed: ${String(error)}`;
        return reply(500, { error: 'server_error' });
      }
      record.refused = error.message;
      const parts = [
        // The description quotes claims the client sent: only what a quoted-string may hold, so the header stays whole.
        ...(error.error ? [`error="${error.error}"`, `error_description="${error.message.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '?')}"`] : []),
        ...(error.scheme === 'DPoP' ? [`algs="${PROOF_ALGORITHMS.join(' ')}"`] : []),
      ];
      // Without credentials, both schemes it takes are offered (RFC 9110 §11.6.1 allows several challenges).
      const challenge = error.error === undefined ? `Bearer, DPoP ${parts.join(', ')}` : `${error.scheme} ${parts.join(', ')}`;
      reply(401, { error: error.error ?? 'unauthorized', error_description: error.message }, {
        'www-authenticate': challenge,
        ...(error.error === 'use_dpop_nonce' ? { 'dpop-nonce': nonce } : {}),
      });
    }
  }

  /**
   * Checks the `DPoP` header as RFC 9449 §4.3 and §7.1 list it, for the request and the token.
   *
   * @returns the thumbprint of the proof's key, to compare with the token's `cnf.jkt`.
   */
  async function checkProof(req: IncomingMessage, method: string, path: string, token: string, record: ResourceRequest): Promise<string> {
    const invalid = (why: string) => {
      record.proofValid = false;
      return new Refusal('DPoP', 'invalid_dpop_proof', why);
    };
    const headers = req.headersDistinct.dpop ?? [];
    if (headers.length === 0) throw new Refusal('DPoP', 'invalid_request', 'the DPoP scheme without a DPoP proof');
    if (headers.length > 1) throw invalid('more than one DPoP header');
    let verified;
    try {
      // EmbeddedJWK takes the key from the proof's own `jwk` header, and refuses a private one.
      verified = await jwtVerify(headers[0]!, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: PROOF_ALGORITHMS });
    } catch (error) {
      throw invalid(`the proof does not verify: ${(error as Error).message}`);
    }
    const { payload, protectedHeader } = verified;
    record.proofClaims = { ...payload };
    if (payload.htm !== method) throw invalid(`htm is ${String(payload.htm)}, the request is ${method}`);
    let htu: URL | undefined;
    try {
      htu = new URL(String(payload.htu));
    } catch {}
    // The target URI without query and fragment (§4.3 step 9); URL parsing normalises case and default ports.
    const expected = new URL(path, origin);
    if (htu === undefined || `${htu.origin}${htu.pathname}` !== `${expected.origin}${expected.pathname}`) throw invalid(`htu ${String(payload.htu)} is not ${expected.href}`);
    const now = Math.floor(Date.now() / 1000);
    if (typeof payload.iat !== 'number' || Math.abs(now - payload.iat) > IAT_WINDOW) throw invalid(`iat ${String(payload.iat)} is more than ${IAT_WINDOW} s from now`);
    if (typeof payload.jti !== 'string' || payload.jti === '') throw invalid('no jti');
    if (seenJtis.has(payload.jti)) throw invalid(`jti ${payload.jti} was used before`);
    seenJtis.add(payload.jti);
    const ath = createHash('sha256').update(token).digest('base64url');
    if (payload.ath !== ath) throw invalid('ath is not the hash of the access token');
    if (options.requireNonce && payload.nonce !== nonce) {
      record.proofValid = false;
      throw new Refusal('DPoP', 'use_dpop_nonce', payload.nonce === undefined ? 'the proof has no nonce' : 'the proof has a stale nonce');
    }
    record.proofValid = true;
    return calculateJwkThumbprint(protectedHeader.jwk!);
  }
}

/** The scheme, whose name is case-insensitive (RFC 9110 §11.1). */
function schemeOf(header: string | undefined, name: string | undefined): ResourceRequest['scheme'] {
  if (header === undefined) return 'none';
  switch (name?.toLowerCase()) {
    case 'dpop':
      return 'DPoP';
    case 'bearer':
      return 'Bearer';
    default:
      return 'other';
  }
}
