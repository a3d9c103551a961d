/**
 * A real OAuth 2.0 / OpenID Connect authorization server on 127.0.0.1 (oidc-provider with the device flow enabled),
 * for `npm start`'s demo and for the integration tests. Everything lives in memory; its login and consent pages are
 * oidc-provider's own development pages, which accept any user name and password.
 *
 * @module
 */

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Adapter } from 'oidc-provider';
import type { ClientAuthenticationMethod } from '../core/protocol/requests.js';

/** A client registered at the embedded server. */
export interface EmbeddedClient {
  clientIdentifier: string;
  /** Empty for the public client. */
  clientSecret: string;
  clientAuthentication: ClientAuthenticationMethod;
}

/** A running embedded server. */
export interface EmbeddedServer {
  /** The issuer; `${issuer}/.well-known/openid-configuration` is its discovery document. */
  issuer: string;
  deviceAuthorizationUrl: string;
  tokenUrl: string;
  /** A public client, and confidential ones authenticating with `client_secret_post` and `client_secret_basic`. */
  clients: { public: EmbeddedClient; secretPost: EmbeddedClient; secretBasic: EmbeddedClient };
  close(): Promise<void>;
}

/** How to start it. */
export interface EmbeddedServerOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Lifetime of device and user codes, in seconds (600 by default). */
  deviceCodeLifetime?: number;
  /** Lifetime of access tokens, in seconds (3600 by default). */
  accessTokenLifetime?: number;
  /** Browser origins allowed to call the endpoints (CORS), e.g. a TV web app's. */
  corsOrigins?: readonly string[];
}

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * Starts the embedded authorization server.
 *
 * @throws when `oidc-provider` is not installed (it is a development dependency of this package).
 */
export async function startEmbeddedServer(options: EmbeddedServerOptions = {}): Promise<EmbeddedServer> {
  const { default: Provider } = await import('oidc-provider').catch(() => {
    throw new Error('The embedded authorization server needs the oidc-provider package: npm install --save-dev oidc-provider@8');
  });
  const { default: MemoryAdapter } = await import('oidc-provider/lib/adapters/memory_adapter.js' as string);

  const server = createServer();
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients = {
    public: { clientIdentifier: 'device-flow-demo', clientSecret: '', clientAuthentication: 'none' },
    secretPost: { clientIdentifier: 'device-flow-post', clientSecret: secret(), clientAuthentication: 'client_secret_post' },
    secretBasic: { clientIdentifier: 'device-flow-basic', clientSecret: secret(), clientAuthentication: 'client_secret_basic' },
  } satisfies EmbeddedServer['clients'];
  const corsOrigins = new Set(options.corsOrigins ?? []);

  const restoreConsole = silenceDevelopmentNotices();
  const provider = new Provider(issuer, {
        clients: Object.values(clients).map((client) => ({
          client_id: client.clientIdentifier,
          ...(client.clientSecret === '' ? {} : { client_secret: client.clientSecret }),
          token_endpoint_auth_method: client.clientAuthentication,
          grant_types: [DEVICE_CODE_GRANT, 'refresh_token'],
          response_types: [],
          redirect_uris: [],
        })),
        // Memory on purpose: the server lives as long as one demo or one test file. A subclass of oidc-provider's own
        // adapter, so that it does not warn that the quick-start adapter is in use.
        adapter: class EmbeddedAdapter extends (MemoryAdapter as new (name: string) => Adapter) {},
        jwks: { keys: [signingKey()] },
        cookies: { keys: [secret()] },
        features: {
          deviceFlow: { enabled: true },
          // The provider's own login and consent pages: the point of the demo is to approve through them.
          devInteractions: { enabled: true },
          revocation: { enabled: true },
        },
        scopes: ['openid', 'offline_access', 'profile', 'email'],
        claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
        ttl: {
          AccessToken: options.accessTokenLifetime ?? 3600,
          DeviceCode: options.deviceCodeLifetime ?? 600,
          Grant: 86_400,
          IdToken: 3600,
          Interaction: 600,
          RefreshToken: 86_400,
          Session: 86_400,
        },
        clientBasedCORS: (_ctx, origin) => corsOrigins.has(origin),
        findAccount: (_ctx, sub) => ({
          accountId: sub,
          claims: () => ({ sub, name: sub, email: `${sub}@example.com` }),
        }),
      });
  provider.proxy = false;
  server.on('request', provider.callback());

  return {
    issuer,
    deviceAuthorizationUrl: `${issuer}/device/auth`,
    tokenUrl: `${issuer}/token`,
    clients,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      restoreConsole();
    },
  };
}

function secret(): string {
  return randomBytes(24).toString('base64url');
}

function signingKey(): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'embedded-1', use: 'sig', alg: 'RS256' };
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
