/**
 * A real OAuth 2.0 / OpenID Connect authorization server on this machine (oidc-provider with the device flow enabled),
 * for developing and testing an application against a device login: `npm start`'s demo, `device-flow serve`, this
 * package's integration tests, and yours. Everything lives in memory; its login and consent pages are oidc-provider's
 * own development pages, which accept any user name and password.
 *
 * @module
 */

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Adapter, KoaContextWithOIDC } from 'oidc-provider';
import { MissingPackageError } from '../core/errors.js';
import type { ClientAuthenticationMethod } from '../core/protocol/requests.js';
import { actAsUser } from './simulatedUser.js';

/**
 * A client to register at the development server.
 *
 * @see [RFC 6749 §2](https://www.rfc-editor.org/rfc/rfc6749#section-2)
 */
export interface DevServerClientOptions {
  /** The `client_id`. */
  clientIdentifier: string;
  /** The client secret; a random one for a confidential client when absent, none for a public client. */
  clientSecret?: string;
  /** `none` (a public client, the default without a secret), `client_secret_post` or `client_secret_basic`. */
  clientAuthentication?: ClientAuthenticationMethod;
}

/**
 * A client registered at the development server: what a flow needs to sign in as it.
 *
 * @see [RFC 6749 §2](https://www.rfc-editor.org/rfc/rfc6749#section-2)
 */
export interface DevServerClient {
  clientIdentifier: string;
  /** Empty for a public client. */
  clientSecret: string;
  clientAuthentication: ClientAuthenticationMethod;
}

/**
 * The clients registered when none are given: a public one, and confidential ones for each kind of authentication.
 *
 * @see [RFC 6749 §2.1, client types](https://www.rfc-editor.org/rfc/rfc6749#section-2.1)
 */
export type DefaultClientName = 'public' | 'secretPost' | 'secretBasic';

/**
 * How to start the development server.
 *
 * @see [RFC 8628 §3.2](https://www.rfc-editor.org/rfc/rfc8628#section-3.2) for `interval` and `deviceCodeLifetime`
 */
export interface DevServerOptions<Names extends string = DefaultClientName> {
  /** The port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** The clients to register, by a name of your choosing; by default `public`, `secretPost` and `secretBasic`. */
  clients?: Record<Names, DevServerClientOptions>;
  /** The scopes the server knows; `openid`, `offline_access` (for refresh tokens), `profile` and `email` by default. */
  scopes?: readonly string[];
  /** Lifetime of device and user codes, in seconds (600 by default). */
  deviceCodeLifetime?: number;
  /** Lifetime of access tokens, in seconds (3600 by default). */
  accessTokenLifetime?: number;
  /** Lifetime of refresh tokens, in seconds (a day by default). */
  refreshTokenLifetime?: number;
  /**
   * The polling interval, in seconds, the server announces; it then answers `slow_down` to a poll that comes sooner.
   * Without it, the server announces none (clients wait 5 s) and takes polls at any pace.
   */
  interval?: number;
  /** Browser origins allowed to call the endpoints (CORS), e.g. a TV web app's. */
  corsOrigins?: readonly string[];
  /**
   * DPoP, which the server always takes: a token request that carries a `DPoP` proof gets an access token of type
   * `DPoP` bound to the proof's key (`cnf.jkt`), and a public client's refresh token is bound to the same key; one
   * without a proof gets a bearer token, as before.
   *
   * `requireNonce`: every proof must carry a nonce the server issued (RFC 9449 §8): a proof without one, or with a
   * stale one, is answered `400 use_dpop_nonce` with a fresh nonce in the `DPoP-Nonce` header, which the client puts
   * in a new proof, and answers may carry a newer nonce in that header. A token request without a proof is not
   * affected. Off by default: the server then neither issues nor accepts nonces.
   *
   * The proofs the server takes are signed with ES256 or EdDSA (its `dpop_signing_alg_values_supported`).
   *
   * @see [RFC 9449 §5](https://www.rfc-editor.org/rfc/rfc9449#section-5) for DPoP access token requests
   * @see [RFC 9449 §8](https://www.rfc-editor.org/rfc/rfc9449#section-8) for server-provided nonces
   */
  dpop?: { requireNonce?: boolean };
}

/**
 * A running development server.
 *
 * @see [RFC 8414](https://www.rfc-editor.org/rfc/rfc8414) for the metadata at `issuer`
 */
export interface DevServer<Names extends string = DefaultClientName> {
  /** The issuer; `${issuer}/.well-known/openid-configuration` is its discovery document. */
  issuer: string;
  deviceAuthorizationUrl: string;
  tokenUrl: string;
  /**
   * The issuer's JSON Web Key Set, which verifies its ID tokens.
   *
   * @see [RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2) (`jwks_uri`)
   */
  jwksUrl: string;
  /**
   * The revocation endpoint: a client posts a token it holds, with its own authentication, to end it (and, for a
   * refresh token, the whole grant).
   *
   * @see [RFC 7009 §2](https://www.rfc-editor.org/rfc/rfc7009#section-2)
   */
  revocationUrl: string;
  /**
   * The introspection endpoint, for resource servers: which tokens are active, for whom, and to which key they are
   * bound. Only the server's own resource-server client (the one {@link DevServer.introspect} uses) may ask about any
   * token; a registered client may ask about its own tokens only.
   *
   * @see [RFC 7662 §2](https://www.rfc-editor.org/rfc/rfc7662#section-2)
   */
  introspectionUrl: string;
  /** Where a person enters a user code, signs in (any name and password) and approves. */
  verificationUrl: string;
  /** The registered clients, by the names they were given. */
  clients: Record<Names, DevServerClient>;
  /** Approves `userCode` as a person would on the server's pages, signing in as `login` (`demo-user` by default). */
  approve(userCode: string, options?: { login?: string }): Promise<void>;
  /** Declines `userCode` as a person would on the server's pages. */
  deny(userCode: string): Promise<void>;
  /**
   * What the server knows of `token` (an access or refresh token), as a resource server would ask it: the
   * introspection response, `{ active: false }` for a token that is unknown, expired or revoked, otherwise `active`,
   * `client_id`, `sub`, `scope`, `exp`, `iat`, `token_type` and, for a DPoP-bound token, `cnf: { jkt }`, the
   * thumbprint of the key it is bound to. It asks as a confidential client of its own, registered for this and not
   * among {@link DevServer.clients}.
   *
   * @throws when the introspection endpoint does not answer 200 with JSON.
   * @see [RFC 7662 §2.2](https://www.rfc-editor.org/rfc/rfc7662#section-2.2) for the response
   * @see [RFC 9449 §6.2](https://www.rfc-editor.org/rfc/rfc9449#section-6.2) for `cnf.jkt`
   */
  introspect(token: string): Promise<Record<string, unknown>>;
  /** Stops the server and closes its connections. */
  close(): Promise<void>;
}

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** The claims of each scope that has some (OpenID Connect Core §5.4). */
const CLAIMS: Record<string, string[]> = { openid: ['sub'], profile: ['name'], email: ['email'] };

const DEFAULT_CLIENTS: Record<DefaultClientName, DevServerClientOptions> = {
  public: { clientIdentifier: 'device-flow-demo' },
  secretPost: { clientIdentifier: 'device-flow-post', clientAuthentication: 'client_secret_post' },
  secretBasic: { clientIdentifier: 'device-flow-basic', clientAuthentication: 'client_secret_basic' },
};

/**
 * Starts a development authorization server on 127.0.0.1, with the device flow, refresh tokens, ID tokens, DPoP,
 * revocation and introspection, in memory. `oidc-provider` is an optional peer dependency of this package: install it
 * to use this.
 *
 * @throws {MissingPackageError} when `oidc-provider` is not installed.
 * @see [RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)
 * @example
 * ```ts
 * const server = await startDevServer({ accessTokenLifetime: 60, interval: 1 });
 * const flow = new OAuth2DeviceAuthorizationFlow({
 *   authorizationUrl: server.deviceAuthorizationUrl,
 *   tokenUrl: server.tokenUrl,
 *   clientIdentifier: server.clients.public.clientIdentifier,
 * });
 * flow.on('authorizeWithUserCode', (_url, userCode) => void server.approve(userCode));
 * ```
 */
export async function startDevServer<Names extends string = DefaultClientName>(options: DevServerOptions<Names> = {}): Promise<DevServer<Names>> {
  const { default: Provider } = await import('oidc-provider').catch(() => {
    throw new MissingPackageError('oidc-provider@8', 'the local authorization server');
  });
  const { default: MemoryAdapter } = await import('oidc-provider/lib/adapters/memory_adapter.js' as string);

  const server = createServer();
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients = registeredClients((options.clients ?? DEFAULT_CLIENTS) as Record<Names, DevServerClientOptions>);
  const corsOrigins = new Set(options.corsOrigins ?? []);
  const scopes = options.scopes ?? ['openid', 'offline_access', 'profile', 'email'];
  const requireNonce = options.dpop?.requireNonce === true;

  // The server's own resource server, for introspect(): a confidential client that is registered but not handed out,
  // so that no client under test has its rights, and whose name no client can take.
  const resourceServer = { client_id: `dev-server-introspection-${secret()}`, client_secret: secret() };

  const restoreConsole = silenceDevelopmentNotices();
  const provider = new Provider(issuer, {
    clients: [
      ...Object.values<DevServerClient>(clients).map((client) => ({
        client_id: client.clientIdentifier,
        ...(client.clientSecret === '' ? {} : { client_secret: client.clientSecret }),
        token_endpoint_auth_method: client.clientAuthentication,
        grant_types: [DEVICE_CODE_GRANT, 'refresh_token'],
        response_types: [],
        redirect_uris: [],
      })),
      { ...resourceServer, token_endpoint_auth_method: 'client_secret_basic', grant_types: [], response_types: [], redirect_uris: [] },
    ],
    // Memory on purpose: the server lives as long as one demo, one test file or one `device-flow serve`. A subclass of
    // oidc-provider's own adapter, so that it does not warn that the quick-start adapter is in use.
    adapter: class DevServerAdapter extends (MemoryAdapter as new (name: string) => Adapter) {},
    jwks: { keys: [signingKey()] },
    cookies: { keys: [secret()] },
    features: {
      deviceFlow: { enabled: true },
      // The provider's own login and consent pages: the point of the server is to approve through them.
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      // Always on: a client that sends no proof gets bearer tokens as before. Nonces only when asked for: with a nonce
      // secret oidc-provider hands a `DPoP-Nonce` to every client that sends a proof, required or not, and a server
      // that never mentions nonces is a case a client must handle too.
      dPoP: requireNonce ? { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true } : { enabled: true },
      introspection: {
        enabled: true,
        // oidc-provider's default lets any confidential client introspect any token, and prints a notice that it
        // should be replaced: the server's resource server may ask about every token, a client about its own.
        allowedPolicy: (_ctx, client, token) => client.clientId === resourceServer.client_id || client.clientId === token.clientId,
      },
    },
    scopes: [...scopes],
    // oidc-provider takes a scope that names claims as known: only those of the scopes given.
    claims: Object.fromEntries(Object.entries(CLAIMS).filter(([scope]) => scope === 'openid' || scopes.includes(scope))),
    ttl: {
      AccessToken: options.accessTokenLifetime ?? 3600,
      DeviceCode: options.deviceCodeLifetime ?? 600,
      Grant: 86_400,
      IdToken: 3600,
      Interaction: 600,
      RefreshToken: options.refreshTokenLifetime ?? 86_400,
      Session: 86_400,
    },
    clientBasedCORS: (_ctx, origin) => corsOrigins.has(origin),
    findAccount: (_ctx, sub) => ({
      accountId: sub,
      claims: () => ({ sub, name: sub, email: `${sub}@example.com` }),
    }),
  });
  provider.proxy = false;
  if (options.interval !== undefined) provider.use(pollingInterval(options.interval));
  server.on('request', provider.callback());
  const verificationUrl = `${issuer}/device`;
  const introspectionUrl = `${issuer}/token/introspection`;

  return {
    issuer,
    deviceAuthorizationUrl: `${issuer}/device/auth`,
    tokenUrl: `${issuer}/token`,
    jwksUrl: `${issuer}/jwks`,
    revocationUrl: `${issuer}/token/revocation`,
    introspectionUrl,
    verificationUrl,
    clients,
    async approve(userCode, { login = 'demo-user' } = {}) {
      const page = await actAsUser(verificationUrl, userCode, { decision: 'approve', login });
      if (!/Sign-in Success/i.test(page)) throw new Error(`The server did not approve user code ${userCode}: ${page.slice(0, 200)}`);
    },
    async deny(userCode) {
      const page = await actAsUser(verificationUrl, userCode, { decision: 'deny' });
      if (!/abort|denied|cancel|interrupted/i.test(page)) throw new Error(`The server did not decline user code ${userCode}: ${page.slice(0, 200)}`);
    },
    async introspect(token) {
      const response = await fetch(introspectionUrl, {
        method: 'POST',
        headers: {
          // Both are base64url, which needs none of the form encoding RFC 6749 §2.3.1 asks for first.
          authorization: `Basic ${Buffer.from(`${resourceServer.client_id}:${resourceServer.client_secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ token }),
      });
      const text = await response.text();
      if (response.status !== 200 || !(response.headers.get('content-type') ?? '').includes('application/json')) {
        throw new Error(`The introspection endpoint answered ${response.status}: ${text.slice(0, 200)}`);
      }
      return JSON.parse(text) as Record<string, unknown>;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      restoreConsole();
    },
  };
}

/** The clients `given`, with a random secret for each confidential one that has none. */
function registeredClients<Names extends string>(given: Record<Names, DevServerClientOptions>): Record<Names, DevServerClient> {
  const clients = {} as Record<Names, DevServerClient>;
  for (const name of Object.keys(given) as Names[]) {
    const { clientIdentifier, clientSecret, clientAuthentication = clientSecret ? 'client_secret_post' : 'none' } = given[name];
    clients[name] = { clientIdentifier, clientAuthentication, clientSecret: clientAuthentication === 'none' ? '' : (clientSecret ?? secret()) };
  }
  return clients;
}

/**
 * A middleware that announces `interval` with every user code and answers `slow_down` to a poll that comes sooner than
 * that after the previous one for the same device code, while the user has not decided yet, as RFC 8628 §3.5 lets a
 * server do; oidc-provider itself does neither. (A poll the user has already approved is answered with the tokens,
 * which oidc-provider hands out only once.)
 */
function pollingInterval(interval: number) {
  const lastPoll = new Map<string, number>();
  return async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
    await next();
    const body = ctx.body as Record<string, unknown> | undefined;
    if (ctx.method !== 'POST' || typeof body !== 'object' || body === null) return;
    if (ctx.path === '/device/auth' && ctx.status === 200) body.interval = interval;
    const params = ctx.oidc?.params as { grant_type?: unknown; device_code?: unknown } | undefined;
    if (ctx.path !== '/token' || params?.grant_type !== DEVICE_CODE_GRANT || typeof params.device_code !== 'string') return;
    const now = Date.now();
    const previous = lastPoll.get(params.device_code);
    lastPoll.set(params.device_code, now);
    if (previous !== undefined && now - previous < interval * 1000 && body.error === 'authorization_pending') {
      ctx.body = { error: 'slow_down', error_description: `poll at most every ${interval} s`, interval };
    }
  };
}

function secret(): string {
  return randomBytes(24).toString('base64url');
}

function signingKey(): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'dev-server-1', use: 'sig', alg: 'RS256' };
}

/**
 * oidc-provider announces on the console that its development pages and default page templates are in use (a
 * warning at start, notices on stdout when the pages are first shown). Here they are the reason the server exists,
 * and a demo's stdout may be JSON, so exactly those messages are dropped while the server runs.
 *
 * @returns the function that puts the console back.
 */
function silenceDevelopmentNotices(): () => void {
  if (runningServers++ === 0) {
    const { info, warn } = console;
    const isNotice = (args: unknown[]) =>
      typeof args[0] === 'string' && (args[0].includes('oidc-provider NOTICE:') || args[0].includes('development-only feature devInteractions'));
    console.info = (...args: unknown[]) => void (isNotice(args) || info(...args));
    console.warn = (...args: unknown[]) => void (isNotice(args) || warn(...args));
    restoreConsole = () => {
      console.info = info;
      console.warn = warn;
    };
  }
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    if (--runningServers === 0) restoreConsole();
  };
}

let runningServers = 0;
let restoreConsole = () => undefined as void;
