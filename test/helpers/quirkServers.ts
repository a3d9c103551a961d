/**
 * Scripted replicas of how the big providers run the device flow, each bending RFC 8628 the way the real one does
 * (each as docs/providers.md describes it). They share the test's clock, so that they judge
 * polling cadence on the same time line as the client, and they record when each poll arrived.
 */
import { LoopbackServer, type RecordedRequest, type Reply } from './loopbackServer.js';

export type Provider = 'github' | 'google' | 'microsoft' | 'auth0';

/** What the user does at the provider, as the test decides. */
export type UserDecision = 'undecided' | 'approve' | 'deny';

export interface QuirkServerOptions {
  /** The clock both sides use (epoch ms). */
  now: () => number;
  /** Seconds the codes live. */
  expiresIn?: number;
  /** The interval the server asks for. */
  interval?: number;
  /** GitHub: answer the device code request with `device_flow_disabled`. */
  deviceFlowDisabled?: boolean;
  /** Polls (1-based) that get a `slow_down`, as a loaded server sends them. */
  slowDownOn?: number[];
  /** Seconds the codes really live, when the server ends them before the `expires_in` it announced. */
  actualLifetime?: number;
}

export interface QuirkServer {
  provider: Provider;
  deviceAuthorizationUrl: string;
  tokenUrl: string;
  /** Polls received, with the time each arrived. */
  polls: { at: number; request: RecordedRequest }[];
  /** Polls that came sooner than the interval after the one before (each earned a `slow_down`). */
  readonly earlyPolls: number;
  decide(decision: UserDecision): void;
  /** The client secret the server expects (Google requires one in the body). */
  clientSecret: string;
  close(): Promise<void>;
}

interface Code {
  deviceCode: string;
  issuedAt: number;
  interval: number;
  lastPoll: number | null;
  expiredReported: boolean;
}

const PATHS: Record<Provider, { device: string; token: string }> = {
  github: { device: '/login/device/code', token: '/login/oauth/access_token' },
  google: { device: '/device/code', token: '/token' },
  microsoft: { device: '/contoso.onmicrosoft.com/oauth2/v2.0/devicecode', token: '/contoso.onmicrosoft.com/oauth2/v2.0/token' },
  auth0: { device: '/oauth/device/code', token: '/oauth/token' },
};

export async function startQuirkServer(provider: Provider, options: QuirkServerOptions): Promise<QuirkServer> {
  const server = await LoopbackServer.start();
  const { now, expiresIn = 900, interval = 5 } = options;
  const lifetime = options.actualLifetime ?? expiresIn;
  const paths = PATHS[provider];
  const polls: QuirkServer['polls'] = [];
  const codes = new Map<string, Code>();
  let decision: UserDecision = 'undecided';
  let issued = 0;
  let earlyPolls = 0;
  const clientSecret = 'google-client-secret-1';

  const expired = (code: Code) => now() >= code.issuedAt + lifetime * 1000;

  server.handle(paths.device, (request) => {
    if (provider === 'github' && options.deviceFlowDisabled) return github(request, 400, { error: 'device_flow_disabled', error_description: 'Device Flow must be explicitly enabled for this App' });
    const deviceCode = `${provider}-device-code-${++issued}`;
    codes.set(deviceCode, { deviceCode, issuedAt: now(), interval, lastPoll: null, expiredReported: false });
    const common = { device_code: deviceCode, user_code: 'WDJB-MJHT', expires_in: expiresIn, interval };
    switch (provider) {
      case 'github':
        return github(request, 200, { ...common, verification_uri: 'https://github.com/login/device' });
      case 'google':
        return { json: { ...common, verification_url: 'https://www.google.com/device' } };
      case 'microsoft':
        return {
          json: {
            ...common,
            verification_uri: 'https://microsoft.com/devicelogin',
            message: 'To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code WDJB-MJHT to authenticate.',
          },
        };
      case 'auth0':
        return {
          json: { ...common, verification_uri: 'https://tenant.auth0.com/activate', verification_uri_complete: 'https://tenant.auth0.com/activate?user_code=WDJB-MJHT' },
        };
    }
  });

  server.handle(paths.token, (request) => {
    polls.push({ at: now(), request });
    const code = codes.get(request.params.get('device_code') ?? '');
    if (provider === 'google' && request.params.get('client_secret') !== clientSecret) {
      return { status: 401, json: { error: 'invalid_client', error_description: 'Unauthorized' } };
    }
    if (code === undefined) return answer({ error: provider === 'github' ? 'incorrect_device_code' : 'invalid_grant' }, 400);
    const tooEarly = code.lastPoll !== null && now() - code.lastPoll < code.interval * 1000;
    if (tooEarly) earlyPolls++;
    code.lastPoll = now();
    if (expired(code)) {
      // Auth0: "expired_token error is returned exactly once. After that, the endpoint returns invalid_grant."
      if (provider === 'auth0' && code.expiredReported) return answer({ error: 'invalid_grant' }, 403);
      code.expiredReported = true;
      return answer({ error: 'expired_token' }, 400);
    }
    if (tooEarly || options.slowDownOn?.includes(polls.length)) {
      code.interval += 5;
      return answer({ error: 'slow_down', error_description: 'Too many requests have been made in the same timeframe.', interval: code.interval }, 429);
    }
    if (decision === 'undecided') return answer({ error: 'authorization_pending' }, 400);
    if (decision === 'deny') return answer({ error: provider === 'microsoft' ? 'authorization_declined' : 'access_denied' }, 400);
    codes.delete(code.deviceCode);
    return answer(tokens(provider), 200);

    function answer(body: Record<string, unknown>, status: number): Reply | 'handled' {
      switch (provider) {
        // GitHub: HTTP 200 whatever happened, form-encoded unless asked for JSON.
        case 'github':
          return github(request, 200, body);
        // Google: 428 for pending and slow_down.
        case 'google':
          return { status: body.error === 'authorization_pending' || body.error === 'slow_down' ? 428 : status, json: body };
        // Microsoft: AADSTS details and error_codes in every error body.
        case 'microsoft':
          return { status, json: 'error' in body ? { ...body, ...microsoftDetails(String(body.error)) } : body };
        // Auth0: 403 for pending and denial, 429 for slow_down.
        case 'auth0':
          return { status: body.error === 'slow_down' ? 429 : 'error' in body ? 403 : 200, json: body };
      }
    }
  });

  return {
    provider,
    deviceAuthorizationUrl: server.url(paths.device),
    tokenUrl: server.url(paths.token),
    polls,
    get earlyPolls() {
      return earlyPolls;
    },
    clientSecret,
    decide: (next) => void (decision = next),
    close: () => server.close(),
  };
}

function github(request: RecordedRequest, status: number, body: Record<string, unknown>): Reply {
  if ((request.headers.accept ?? '').includes('application/json')) return { status, json: body };
  const form = new URLSearchParams(Object.entries(body).map(([name, value]) => [name, String(value)]));
  return { status, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body: form.toString() };
}

function microsoftDetails(error: string): Record<string, unknown> {
  const codes: Record<string, number> = { authorization_pending: 70016, authorization_declined: 70000, expired_token: 70020, slow_down: 70019 };
  return {
    error_description: `AADSTS${codes[error] ?? 90000}: ${error}. Trace ID: 00000000-0000-0000-0000-000000000000`,
    error_codes: [codes[error] ?? 90000],
    timestamp: '2026-11-27 12:00:00Z',
    trace_id: '00000000-0000-0000-0000-000000000000',
    correlation_id: '00000000-0000-0000-0000-000000000000',
  };
}

function tokens(provider: Provider): Record<string, unknown> {
  switch (provider) {
    case 'github':
      return { access_token: 'gho_16C7e42F292c6912E7710c838347Ae178B4a', token_type: 'bearer', scope: 'repo,gist' };
    case 'google':
      return { access_token: 'ya29.a0AfH6SMB', expires_in: 3599, refresh_token: '1//0gdP8', scope: 'openid https://www.googleapis.com/auth/drive.file', token_type: 'Bearer', id_token: 'eyJ.google.id' };
    case 'microsoft':
      return { token_type: 'Bearer', scope: 'User.Read profile openid email', expires_in: 3599, ext_expires_in: 3599, access_token: 'eyJ0eXAi.ms.at', refresh_token: 'AwABAAAA.ms.rt', id_token: 'eyJ0eXAi.ms.id' };
    case 'auth0':
      return { access_token: 'eyJz93a.auth0.at', refresh_token: 'GEbRxBN.auth0.rt', id_token: 'eyJhbGci.auth0.id', token_type: 'Bearer', expires_in: 86400 };
  }
}

