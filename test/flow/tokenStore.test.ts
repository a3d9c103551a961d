/**
 * Tokens that outlive the flow: a token store the flow saves to, `OAuth2DeviceAuthorizationFlow.load()`,
 * `freshAccessToken()` (one shared refresh, the store's lock, another flow's rotation adopted), and `authorizeDevice`
 * with a store. Against the development server (oidc-provider); flows run on a simulated clock that jumps to each poll
 * and, for freshness, past the token's lifetime.
 */
import { exactClock } from '../helpers/exactClock.js';
import { SimulatedClock } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSignInRequired } from '../../src/core/protocol/serverError.js';
import { type DevServer, startDevServer } from '../../src/devServer/server.js';
import { type DeviceFlowOptions, OAuth2DeviceAuthorizationFlow } from '../../src/flow/oauth2DeviceAuthorizationFlow.js';
import { createMemoryTokenStore, type TokenStore } from '../../src/flow/tokenStore.js';
import type { FetchFunction } from '../../src/http/sendRequest.js';
import { authorizeDevice } from '../../src/promise/authorizeDevice.js';
import { rejectionOf } from '../helpers/expectError.js';
import { nextSignal, recordSignals } from '../helpers/flowHarness.js';

let server: DevServer;
beforeAll(async () => {
  server = await startDevServer({ accessTokenLifetime: 600 });
});
afterAll(async () => {
  await server.close();
});

/** A store that counts its saves and keeps every value saved. */
function countingStore(inner: TokenStore = createMemoryTokenStore()) {
  const saved: string[] = [];
  return {
    saved,
    store: {
      ...inner,
      load: () => inner.load(),
      clear: () => inner.clear(),
      lock: inner.lock?.bind(inner),
      save: async (value: string) => {
        saved.push(value);
        await inner.save(value);
      },
    } satisfies TokenStore,
  };
}

/** The token endpoint's requests a flow made, by grant type. */
function recordingFetch() {
  const grants: string[] = [];
  const fetchWith: FetchFunction = (input, init) => {
    const grant = init.body instanceof URLSearchParams ? init.body.get('grant_type') : null;
    if (grant !== null) grants.push(grant);
    return fetch(input, init);
  };
  return { grants, fetch: fetchWith };
}

function options<Extra extends DeviceFlowOptions>(extra: Extra = {} as Extra): DeviceFlowOptions & Extra & { clock: SimulatedClock } {
  const clock = exactClock(Date.now());
  return {
    authorizationUrl: server.deviceAuthorizationUrl,
    tokenUrl: server.tokenUrl,
    revocationUrl: server.revocationUrl,
    issuer: server.issuer,
    jwksUrl: server.jwksUrl,
    clientIdentifier: server.clients.public.clientIdentifier,
    requestedScopeTokens: ['openid', 'offline_access'],
    ...extra,
    clock,
  };
}

/** Signs `flow` in: the user approves, the clock jumps to the next poll. */
async function signIn(flow: OAuth2DeviceAuthorizationFlow, clock: SimulatedClock): Promise<void> {
  flow.grant();
  const [, userCode] = await nextSignal(flow, 'authorizeWithUserCode');
  await server.approve(userCode);
  const granted = nextSignal(flow, 'granted');
  clock.set(flow.nextPollAt!.getTime());
  await granted;
}

describe('createMemoryTokenStore', () => {
  it('keeps one string, forgets it on clear, and runs locked work one caller at a time, whatever each one did', async () => {
    const store = createMemoryTokenStore('first');
    expect(await store.load()).toBe('first');
    await store.save('second');
    expect(await store.load()).toBe('second');
    await store.clear();
    expect(await store.load()).toBeNull();
    const order: string[] = [];
    const work = (name: string, fail = false) => async () => {
      order.push(`${name} in`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      order.push(`${name} out`);
      if (fail) throw new Error(name);
    };
    const results = await Promise.allSettled([store.lock!(work('a', true)), store.lock!(work('b')), store.lock!(work('c'))]);
    expect(order).toEqual(['a in', 'a out', 'b in', 'b out', 'c in', 'c out']);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
  });
});

describe('a flow with a token store', () => {
  it('saves after the steps that change what it holds, once per step, never for a poll that only waits', async () => {
    const { store, saved } = countingStore();
    const { clock, ...rest } = options();
    const flow = new OAuth2DeviceAuthorizationFlow({ ...rest, clock, tokenStore: store });
    flow.grant();
    const [, userCode] = await nextSignal(flow, 'authorizeWithUserCode');
    await flow.saved();
    // grant()'s step (it made a nonce), then the step that received the user code: one save each.
    expect(saved).toHaveLength(2);
    expect(JSON.parse(saved[0]!).state.context.properties).toMatchObject({ userCode: '', nonce: expect.any(String) });
    expect(JSON.parse(saved[1]!).state.context.properties).toMatchObject({ userCode, status: 'TemporaryCredentialsReceived' });
    // Polls answered authorization_pending change only the polling bookkeeping: no save.
    for (let poll = 0; poll < 3; poll++) {
      const answered = nextSignal(flow, 'nextPollAtChanged');
      clock.set(flow.nextPollAt!.getTime());
      await answered;
    }
    await flow.saved();
    expect(saved).toHaveLength(2);
    await server.approve(userCode);
    const granted = nextSignal(flow, 'granted');
    clock.set(flow.nextPollAt!.getTime());
    await granted;
    await flow.saved();
    expect(saved).toHaveLength(3);
    const stored = JSON.parse(saved[2]!);
    expect(stored.state.context.properties).toMatchObject({ token: flow.token, refreshToken: flow.refreshToken, status: 'Granted', idTokenClaims: { sub: 'demo-user' } });
    flow.dispose();
  });

  it('is resumed by load(): signed in, with every token property, and able to refresh', async () => {
    const { store } = countingStore();
    const first = options({ tokenStore: store });
    const signedIn = new OAuth2DeviceAuthorizationFlow(first);
    await signIn(signedIn, first.clock);
    await signedIn.saved();
    signedIn.dispose();

    const later = await OAuth2DeviceAuthorizationFlow.load(options({ tokenStore: store }));
    expect(later.status).toBe('Granted');
    for (const name of ['token', 'refreshToken', 'idToken', 'tokenType'] as const) expect(later[name]).toBe(signedIn[name]);
    expect(later.idTokenClaims).toEqual(signedIn.idTokenClaims);
    later.refreshTokens();
    await nextSignal(later, 'granted');
    expect(later.token).not.toBe(signedIn.token);
    await later.saved();
    expect(JSON.parse((await store.load())!).state.context.properties.token).toBe(later.token);
    later.dispose();
  });

  it('is resumed by load() while the user has not decided yet: it polls on with the same code, and signs in', async () => {
    const { store } = countingStore();
    const first = new OAuth2DeviceAuthorizationFlow(options({ tokenStore: store }));
    first.grant();
    const [, userCode] = await nextSignal(first, 'authorizeWithUserCode');
    await first.saved();
    first.dispose();

    const resumed = options({ tokenStore: store });
    const flow = await OAuth2DeviceAuthorizationFlow.load(resumed);
    expect({ userCode: flow.userCode, polling: flow.polling }).toEqual({ userCode, polling: true });
    await server.approve(userCode);
    const granted = nextSignal(flow, 'granted');
    resumed.clock.set(flow.nextPollAt!.getTime());
    await granted;
    expect(flow.token).not.toBe('');
    flow.dispose();
  });

  it('starts idle from an empty store, and refuses a store that holds no snapshot it can resume, leaving it as it is', async () => {
    const empty = await OAuth2DeviceAuthorizationFlow.load(options({ tokenStore: createMemoryTokenStore() }));
    expect(empty.status).toBe('NotAuthenticated');
    empty.dispose();
    const corrupt = createMemoryTokenStore('{"format":"oauth2-device-flow","version":2,"savedAt":"x","state":{}}');
    const error = await rejectionOf(OAuth2DeviceAuthorizationFlow.load(options({ tokenStore: corrupt })));
    expect(error).toMatchObject({ code: 'ClientError', message: expect.stringMatching(/snapshot cannot be resumed/) });
    expect(await corrupt.load()).toMatch(/^\{"format"/);
  });

  it('reports a store that cannot save with saveFailed, without the tokens the store quoted, and goes on', async () => {
    const failing: TokenStore = {
      load: async () => null,
      clear: async () => undefined,
      save: async (value) => {
        throw new Error(`disk full while writing ${value}`);
      },
    };
    const { clock, ...rest } = options({ tokenStore: failing });
    const flow = new OAuth2DeviceAuthorizationFlow({ ...rest, clock });
    const recorder = recordSignals(flow);
    await signIn(flow, clock);
    await flow.saved();
    const failures = recorder.signals.filter((signal) => signal.name === 'saveFailed').map((signal) => signal.args[0] as Error);
    expect(failures.length).toBeGreaterThanOrEqual(2);
    for (const failure of failures) {
      expect(failure).toMatchObject({ code: 'ClientError', message: expect.stringMatching(/^The token store could not save the flow: disk full/) });
      expect(JSON.stringify({ message: failure.message, stack: failure.stack, cause: String(failure.cause) })).not.toContain(flow.refreshToken);
    }
    expect(flow.status).toBe('Granted');
    flow.dispose();
  });
});

describe('freshAccessToken()', () => {
  it('returns the token in hand while it is valid long enough, and refreshes (once, for concurrent calls) when not', async () => {
    const recording = recordingFetch();
    const { store, saved } = countingStore();
    const { clock, ...rest } = options({ tokenStore: store, fetch: recording.fetch });
    const flow = new OAuth2DeviceAuthorizationFlow({ ...rest, clock });
    await signIn(flow, clock);
    const first = flow.token;
    expect(await flow.freshAccessToken()).toBe(first);
    expect(recording.grants.filter((grant) => grant === 'refresh_token')).toEqual([]);
    // Ten minutes less thirty seconds later the token has 30 s left: less than the minute asked for.
    clock.increment(570_000);
    await flow.saved();
    const saves = saved.length;
    const tokens = await Promise.all([flow.freshAccessToken(), flow.freshAccessToken(), flow.freshAccessToken({ minValidity: 120 })]);
    expect(recording.grants.filter((grant) => grant === 'refresh_token')).toHaveLength(1);
    expect(new Set(tokens)).toEqual(new Set([flow.token]));
    expect(flow.token).not.toBe(first);
    // The new tokens were saved before the promise resolved.
    expect(saved.length).toBeGreaterThan(saves);
    expect(JSON.parse(saved.at(-1)!).state.context.properties.token).toBe(flow.token);
    // A minimum of 30 s is met by the token in hand: no request.
    expect(await flow.freshAccessToken({ minValidity: 30 })).toBe(flow.token);
    expect(recording.grants.filter((grant) => grant === 'refresh_token')).toHaveLength(1);
    flow.dispose();
  });

  it('forgets the tokens and says a sign-in is needed when the server refuses the refresh token', async () => {
    const { store } = countingStore();
    const { clock, ...rest } = options({ tokenStore: store });
    const flow = new OAuth2DeviceAuthorizationFlow({ ...rest, clock });
    await signIn(flow, clock);
    // Revoking the refresh token ends the grant at the server (oidc-provider).
    await fetch(server.revocationUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: flow.refreshToken, token_type_hint: 'refresh_token', client_id: server.clients.public.clientIdentifier }),
    });
    const refreshToken = flow.refreshToken;
    clock.increment(590_000);
    const error = await rejectionOf(flow.freshAccessToken());
    expect(error).toMatchObject({ code: 'ServerError', error: 'invalid_grant' });
    expect(isSignInRequired(error)).toBe(true);
    expect(error.message).not.toContain(refreshToken);
    expect({ token: flow.token, refreshToken: flow.refreshToken, status: flow.status }).toEqual({ token: '', refreshToken: '', status: 'NotAuthenticated' });
    expect(JSON.parse((await store.load())!).state.context.properties).toMatchObject({ token: '', refreshToken: '' });
    flow.dispose();
  });

  it('says a sign-in is needed, with login_required, when there is no refresh token', async () => {
    const flow = new OAuth2DeviceAuthorizationFlow(options());
    const error = await rejectionOf(flow.freshAccessToken());
    expect(error).toMatchObject({ code: 'ClientError', error: 'login_required' });
    expect(isSignInRequired(error)).toBe(true);
    flow.dispose();
  });

  it('takes the tokens another flow of the same sign-in refreshed into the store, instead of spending a refresh token that is gone', async () => {
    const recording = recordingFetch();
    const store = createMemoryTokenStore();
    const a = options({ tokenStore: store, fetch: recording.fetch });
    const first = new OAuth2DeviceAuthorizationFlow(a);
    await signIn(first, a.clock);
    await first.saved();
    // A second process resumes the same sign-in.
    const b = options({ tokenStore: store, fetch: recording.fetch });
    const second = await OAuth2DeviceAuthorizationFlow.load(b);
    expect(second.refreshToken).toBe(first.refreshToken);
    // The first one refreshes (oidc-provider rotates a public client's refresh token) and saves.
    a.clock.increment(590_000);
    await first.freshAccessToken();
    const refreshes = recording.grants.filter((grant) => grant === 'refresh_token').length;
    // The second one's token is as old: it looks at the store first, and takes the first one's.
    b.clock.increment(590_000);
    expect(await second.freshAccessToken()).toBe(first.token);
    expect(second.refreshToken).toBe(first.refreshToken);
    expect(recording.grants.filter((grant) => grant === 'refresh_token')).toHaveLength(refreshes);
    first.dispose();
    second.dispose();
  });
  it('never saves a refresh in flight: a flow loaded from the store meanwhile resumes the tokens at rest, sends no refresh, and takes the outcome', async () => {
    const recording = recordingFetch();
    // The first flow's refresh request waits at the door until released.
    let arrived!: () => void;
    const atDoor = new Promise<void>((resolve) => (arrived = resolve));
    let release!: () => void;
    const door = new Promise<void>((resolve) => (release = resolve));
    const held: FetchFunction = async (input, init) => {
      if (init.body instanceof URLSearchParams && init.body.get('grant_type') === 'refresh_token') {
        arrived();
        await door;
      }
      return recording.fetch(input, init);
    };
    const { store, saved } = countingStore();
    const a = options({ tokenStore: store, fetch: held });
    const first = new OAuth2DeviceAuthorizationFlow(a);
    await signIn(first, a.clock);
    await first.saved();
    a.clock.increment(590_000);
    const refreshing = first.freshAccessToken();
    await atDoor;
    expect(first.status).toBe('RefreshingToken');
    // A setting changed during the refresh is saved with its outcome; saved() waits for that.
    first.refreshLeadTime = 42;
    let savedNow = false;
    // What the store had been given when saved() resolved.
    const savedLater = first.saved().then(() => ((savedNow = true), [...saved]));
    await new Promise((resolve) => setImmediate(resolve));
    expect(saved.map((value) => JSON.parse(value).state.context.properties.status)).not.toContain('RefreshingToken');
    expect(savedNow).toBe(false);

    // Another process starts now: it finds the tokens at rest, not a refresh to send again.
    const b = options({ tokenStore: store, fetch: recording.fetch });
    const second = await OAuth2DeviceAuthorizationFlow.load(b);
    expect({ status: second.status, refreshToken: second.refreshToken }).toEqual({ status: 'Granted', refreshToken: first.refreshToken });
    b.clock.increment(590_000);
    // It waits for the store's lock, then takes the first one's new tokens.
    const taken = second.freshAccessToken();
    release();
    const token = await refreshing;
    const givenThen = await savedLater;
    expect(JSON.parse(givenThen.at(-1)!).state.context.properties).toMatchObject({ token, status: 'Granted', refreshLeadTime: 42 });
    expect(await taken).toBe(token);
    expect(recording.grants.filter((grant) => grant === 'refresh_token')).toHaveLength(1);
    first.dispose();
    second.dispose();
  });

  it('saved() during a refresh resolves when the flow is disposed before the refresh ends; nothing in flight is saved', async () => {
    let arrived!: () => void;
    const atDoor = new Promise<void>((resolve) => (arrived = resolve));
    const never: FetchFunction = async (input, init) => {
      if (init.body instanceof URLSearchParams && init.body.get('grant_type') === 'refresh_token') {
        arrived();
        return new Promise<never>(() => undefined);
      }
      return fetch(input, init);
    };
    const { store, saved } = countingStore();
    const { clock, ...rest } = options({ tokenStore: store, fetch: never });
    const flow = new OAuth2DeviceAuthorizationFlow({ ...rest, clock });
    await signIn(flow, clock);
    await flow.saved();
    const saves = saved.length;
    flow.refreshTokens();
    await atDoor;
    const waiting = flow.saved();
    flow.dispose();
    await waiting;
    expect(saved).toHaveLength(saves);
  });
});

describe('authorizeDevice with a token store', () => {
  it('signs in once and saves; later calls return the stored tokens, refreshing only when they are too old', async () => {
    const recording = recordingFetch();
    const store = createMemoryTokenStore();
    const clock = exactClock(Date.now());
    const shown: string[] = [];
    const hooks = {
      tokenStore: store,
      onUserCode: ({ userCode }: { userCode: string }) => {
        shown.push(userCode);
        void server.approve(userCode).then(() => setTimeout(() => clock.increment(5_000), 20));
      },
    };
    const { clock: _unused, ...base } = options({ fetch: recording.fetch });
    const tokens = await authorizeDevice({ ...base, clock }, hooks);
    expect(shown).toHaveLength(1);
    expect(JSON.parse((await store.load())!).state.context.properties.token).toBe(tokens.accessToken);
    // Again: the stored tokens, no sign-in, no request.
    const requests = recording.grants.length;
    const again = await authorizeDevice({ ...base, clock }, hooks);
    expect(again.accessToken).toBe(tokens.accessToken);
    expect(shown).toHaveLength(1);
    expect(recording.grants).toHaveLength(requests);
    // Much later: one refresh, still no sign-in.
    clock.increment(590_000);
    const refreshed = await authorizeDevice({ ...base, clock }, hooks);
    expect(refreshed.accessToken).not.toBe(tokens.accessToken);
    expect(recording.grants.slice(requests)).toEqual(['refresh_token']);
    expect(shown).toHaveLength(1);
  });
});
