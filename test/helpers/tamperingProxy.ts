/**
 * A man in the middle for ID token validation tests: an issuer of its own on 127.0.0.1 that passes every request on to
 * a real authorization server (the development server) and forges what comes back. The client discovers the proxy as
 * its issuer, so the discovery document names the proxy and its key set; the proxy then re-signs every ID token with
 * its own keys, after bending the claims the way the current scenario says. Everything else is the upstream server's
 * own answer, so grants, polling, refresh, revocation and DPoP work as they do without the proxy.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Agent, createServer, type IncomingHttpHeaders, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { type AddressInfo, isIP } from 'node:net';
import { decodeJwt, exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload, SignJWT, UnsecuredJWT } from 'jose';

/**
 * What the proxy does to the ID tokens (and token types) it passes on. Each is one way a token can be forged or
 * broken that OpenID Connect Core §3.1.3.7 (or RFC 9449 §5, for `bearerForDpop`) tells a client to catch.
 */
export type IdTokenScenario =
  /** Re-signed by the proxy with `iss` set to the proxy's issuer, and otherwise as the server issued it: valid. */
  | 'intact'
  /** `aud` is another client only (§3.1.3.7 step 3). */
  | 'wrongAudience'
  /** `iss` is the upstream server's issuer, not the one the client discovered: a mix-up (step 2). */
  | 'wrongIssuer'
  /** `exp` an hour ago, `iat` moved back with it (step 9). */
  | 'expired'
  /** No `iat` at all (step 10; a required claim, §2). */
  | 'missingIat'
  /** Header and payload intact, one byte of the signature changed (step 6). */
  | 'badSignature'
  /** An unsecured JWT: `alg: none`, empty signature (step 7: the algorithm is not the expected one). */
  | 'algNone'
  /** Signed with HS256 using the proxy's public key (its SPKI PEM text) as the HMAC secret: the classic confusion. */
  | 'hs256'
  /** A `nonce` the client did not send (step 11). */
  | 'nonceMismatch'
  /** `aud` is `[client, another client]` and there is no `azp` (steps 4 and 5). */
  | 'multipleAudiencesWithoutAzp'
  /** Another `sub` than the server issued: as a refreshed ID token, not the same user (§12.2). */
  | 'subjectChanged'
  /** A `DPoP` token type answered as `Bearer`, ID token intact: a downgrade of a bound token (RFC 9449 §5). */
  | 'bearerForDpop';

/** Every scenario, for tests that go through all of them. */
export const ID_TOKEN_SCENARIOS: readonly IdTokenScenario[] = [
  'intact',
  'wrongAudience',
  'wrongIssuer',
  'expired',
  'missingIat',
  'badSignature',
  'algNone',
  'hs256',
  'nonceMismatch',
  'multipleAudiencesWithoutAzp',
  'subjectChanged',
  'bearerForDpop',
];

/** The algorithms the proxy signs ID tokens with. RS256 is what OpenID Connect clients expect unless told otherwise. */
export type ProxySigningAlgorithm = 'RS256' | 'ES256';

/** One request that went through the proxy, or that it answered itself (`/jwks`). */
export interface ProxiedExchange {
  method: string;
  /** The path, without the query. */
  path: string;
  status: number;
  /** The scenario in force when the proxy rewrote this answer: a token response with an ID token or token type `DPoP`. */
  tampered?: IdTokenScenario;
}

/** A running tampering proxy. */
export interface TamperingProxy {
  /** The proxy's issuer (its origin): what the client is configured with and what it discovers. */
  readonly issuer: string;
  /** The issuer of the server behind it. */
  readonly upstreamIssuer: string;
  /** What the proxy does to the next token responses; `intact` at first. Set it between requests. */
  scenario: IdTokenScenario;
  /** The `kid` the proxy signs with now. */
  readonly kid: string;
  /** How many times `/jwks` was fetched. */
  readonly jwksFetches: number;
  /** The `kid`s `/jwks` shows now. */
  readonly publishedKids: readonly string[];
  /** Every request, in the order the answers went out. */
  readonly exchanges: readonly ProxiedExchange[];
  /** `${issuer}${path}`. */
  url(path: string): string;
  /**
   * Starts signing with a new key under a new `kid` (of `alg`, by default the current key's). The new key appears in
   * `/jwks` at once, or only after `publishNewKeyAfterFetches` more fetches have been answered without it: a client that
   * refetches once on an unknown `kid` then still does not find it. Earlier keys stay published, as in a real rotation.
   *
   * @returns the new `kid`.
   */
  rotateKeys(options?: { alg?: ProxySigningAlgorithm; publishNewKeyAfterFetches?: number }): Promise<string>;
  close(): Promise<void>;
}

interface SigningKey {
  kid: string;
  alg: ProxySigningAlgorithm;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

const DISCOVERY_PATHS = new Set(['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']);

/** Headers that belong to one connection (RFC 9110 §7.6.1), and `accept-encoding`, so that answers come uncompressed and can be rewritten. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'accept-encoding', 'content-length'];

/**
 * Starts a tampering proxy on 127.0.0.1 in front of `upstreamIssuer`, which must be an `http:` issuer on an IP address
 * without a path (as the development server's is): the proxy never resolves a host name.
 *
 * The client's `Host` header is passed on unchanged, so that the upstream server sees the URL the client used: it
 * checks a DPoP proof's `htu` against it, and builds the endpoints of its discovery document and the device
 * authorization response's `verification_uri` from it.
 */
export async function startTamperingProxy(upstreamIssuer: string, options: { alg?: ProxySigningAlgorithm } = {}): Promise<TamperingProxy> {
  const upstream = new URL(upstreamIssuer);
  if (upstream.protocol !== 'http:' || isIP(upstream.hostname.replace(/^\[|\]$/g, '')) === 0 || upstream.pathname !== '/') {
    throw new Error(`The tampering proxy takes an http: issuer on an IP address without a path, not ${upstreamIssuer}`);
  }
  // Keep-alive to the upstream for speed, in an agent of its own so that close() can end its sockets.
  const agent = new Agent({ keepAlive: true });
  const keys: SigningKey[] = [await makeKey('proxy-key-1', options.alg ?? 'RS256')];
  let current = keys[0]!;
  let hidden: { key: SigningKey; fetchesLeft: number } | undefined;
  let jwksFetches = 0;
  const exchanges: ProxiedExchange[] = [];

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      exchanges.push({ method: req.method ?? '', path: pathOf(req), status: 502 });
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`tampering proxy: ${String(error)}`);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const upstreamOrigin = upstream.origin;

  const proxy: TamperingProxy = {
    issuer,
    upstreamIssuer: upstreamOrigin,
    scenario: 'intact',
    get kid() {
      return current.kid;
    },
    get jwksFetches() {
      return jwksFetches;
    },
    get publishedKids() {
      return published().map((key) => key.kid);
    },
    exchanges,
    url: (path) => `${issuer}${path}`,
    async rotateKeys({ alg = current.alg, publishNewKeyAfterFetches = 0 } = {}) {
      const key = await makeKey(`proxy-key-${keys.length + 1}`, alg);
      keys.push(key);
      current = key;
      hidden = publishNewKeyAfterFetches > 0 ? { key, fetchesLeft: publishNewKeyAfterFetches } : undefined;
      return key.kid;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
  return proxy;

  function published(): SigningKey[] {
    return keys.filter((key) => key !== hidden?.key);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = pathOf(req);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);

    if (path === '/jwks') {
      jwksFetches++;
      if (hidden !== undefined && hidden.fetchesLeft > 0) hidden.fetchesLeft--;
      else hidden = undefined;
      const keySet = JSON.stringify({ keys: published().map((key) => key.publicJwk) });
      return send(res, { method, path, status: 200 }, { 'content-type': 'application/jwk-set+json' }, Buffer.from(keySet));
    }

    // oidc-provider serves only the OpenID Connect document; the RFC 8414 one has the same members.
    const upstreamPath = DISCOVERY_PATHS.has(path) ? '/.well-known/openid-configuration' : (req.url ?? '/');
    const answer = await forward(req, upstreamPath, body);
    let tampered: IdTokenScenario | undefined;
    let out = answer.body;
    const json = (answer.headers['content-type'] ?? '').includes('json') ? parseObject(answer.body) : undefined;
    if (json !== undefined && DISCOVERY_PATHS.has(path) && answer.status === 200) {
      out = Buffer.from(JSON.stringify(rewriteDiscovery(json)));
    } else if (json !== undefined && (typeof json.id_token === 'string' || json.token_type === 'DPoP')) {
      tampered = proxy.scenario;
      out = Buffer.from(JSON.stringify(await rewriteTokens(json, tampered)));
    }
    return send(res, { method, path, status: answer.status, ...(tampered ? { tampered } : {}) }, answer.headers, out);
  }

  function send(res: ServerResponse, exchange: ProxiedExchange, headers: IncomingHttpHeaders, body: Buffer): void {
    const outgoing = withoutHopByHop(headers);
    exchanges.push(exchange);
    res.writeHead(exchange.status, { ...outgoing, 'content-length': String(body.length) });
    res.end(body);
  }

  function forward(req: IncomingMessage, path: string, body: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const headers = withoutHopByHop(req.headers);
      if (body.length > 0 || !['GET', 'HEAD'].includes(req.method ?? 'GET')) headers['content-length'] = String(body.length);
      const outgoing = request({ host: upstream.hostname.replace(/^\[|\]$/g, ''), port: upstream.port, method: req.method, path, headers, agent }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) }));
        answer.on('error', reject);
      });
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  }

  /** The upstream document with the proxy in its place: every endpoint, the issuer, the key set and its algorithms. */
  function rewriteDiscovery(metadata: Record<string, unknown>): Record<string, unknown> {
    const replaced = replaceOrigin(metadata) as Record<string, unknown>;
    return {
      ...replaced,
      issuer,
      jwks_uri: `${issuer}/jwks`,
      id_token_signing_alg_values_supported: [...new Set(keys.map((key) => key.alg))],
    };
  }

  function replaceOrigin(value: unknown): unknown {
    if (typeof value === 'string') return value.startsWith(upstreamOrigin) ? issuer + value.slice(upstreamOrigin.length) : value;
    if (Array.isArray(value)) return value.map(replaceOrigin);
    if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([name, member]) => [name, replaceOrigin(member)]));
    return value;
  }

  async function rewriteTokens(tokens: Record<string, unknown>, scenario: IdTokenScenario): Promise<Record<string, unknown>> {
    const rewritten = { ...tokens };
    if (scenario === 'bearerForDpop' && tokens.token_type === 'DPoP') rewritten.token_type = 'Bearer';
    if (typeof tokens.id_token === 'string') rewritten.id_token = await forge(tokens.id_token, scenario);
    return rewritten;
  }

  /** The upstream ID token's claims (read, not verified: the proxy trusts its upstream), as the scenario bends them, signed anew. */
  async function forge(upstreamToken: string, scenario: IdTokenScenario): Promise<string> {
    const claims: JWTPayload = { ...decodeJwt(upstreamToken), iss: issuer };
    const client = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
    const now = Math.floor(Date.now() / 1000);
    switch (scenario) {
      case 'wrongAudience':
        claims.aud = 'another-client';
        break;
      case 'wrongIssuer':
        claims.iss = upstreamOrigin;
        break;
      case 'expired': {
        const lifetime = (claims.exp ?? now + 3600) - (claims.iat ?? now);
        claims.exp = now - 3600;
        claims.iat = claims.exp - lifetime;
        break;
      }
      case 'missingIat':
        delete claims.iat;
        break;
      case 'nonceMismatch':
        claims.nonce = `not-your-nonce-${randomBytes(8).toString('hex')}`;
        break;
      case 'multipleAudiencesWithoutAzp':
        claims.aud = [client ?? 'the-client', 'another-client'];
        delete claims.azp;
        break;
      case 'subjectChanged':
        claims.sub = `not-${claims.sub ?? 'the-user'}`;
        break;
      case 'algNone':
        return new UnsecuredJWT(claims).encode();
      case 'hs256': {
        const secret = new TextEncoder().encode(await exportSPKI(current.publicKey));
        return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: current.kid }).sign(secret);
      }
      default:
        break;
    }
    const signed = await new SignJWT(claims).setProtectedHeader({ alg: current.alg, typ: 'JWT', kid: current.kid }).sign(current.privateKey);
    if (scenario !== 'badSignature') return signed;
    const [header, payload, signature] = signed.split('.') as [string, string, string];
    // One byte of the decoded signature, not one base64url character, which may only touch padding bits.
    const bytes = Buffer.from(signature, 'base64url');
    const middle = bytes.length >> 1;
    bytes[middle] = bytes[middle]! ^ 0x01;
    return `${header}.${payload}.${bytes.toString('base64url')}`;
  }
}

async function makeKey(kid: string, alg: ProxySigningAlgorithm): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

function pathOf(req: IncomingMessage): string {
  return new URL(req.url ?? '/', 'http://proxy.invalid').pathname;
}

function withoutHopByHop(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const kept = { ...headers };
  for (const name of HOP_BY_HOP) delete kept[name];
  return kept;
}

function parseObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
