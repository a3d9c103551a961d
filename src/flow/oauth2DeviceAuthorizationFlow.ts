/**
 * `OAuth2DeviceAuthorizationFlow`: the statechart behind the API of Qt 6.9's `QOAuth2DeviceAuthorizationFlow`. A
 * façade: the statechart decides, a {@link FlowRunner} runs it and turns what it emits into signals, and each member
 * here is one of Qt's, a line or two long.
 *
 * @module
 */

import type { Actor, InspectionEvent, Observer } from 'xstate';
import { DeviceFlowError } from '../core/errors.js';
import { requireNonNegativeNumber, requirePositiveNumber, requireString } from '../core/optionChecks.js';
import {
  type FlowSettingsInput,
  type FlowStatus,
  type NonceMode,
  PROPERTIES,
  PROPERTY_NAMES,
  readSettings,
  type SettingName,
  type SigningAlgorithm,
} from '../core/properties.js';
import type { ClientAuthenticationMethod } from '../core/protocol/requests.js';
import { DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REQUEST_TIMEOUT_MS, type ParameterModifier, type RequestModifier, type TransportOptions } from '../http/actors.js';
import type { FetchFunction } from '../http/sendRequest.js';
import type { DeviceAuthorizationMachine } from '../machines/deviceAuthorization.js';
import { createFlowSnapshot, type DeviceFlowSnapshot, storedTokensOf } from '../machines/snapshot.js';
import { isSignInRequired } from '../core/protocol/serverError.js';
import { authorizedFetch } from './authorizedFetch.js';
import { type Clock, createPreciseClock } from './clocks.js';
import { type DpopKey, dpopKeyOf } from './dpopKey.js';
import { StoreSync } from './storeSync.js';
import type { TokenStore } from './tokenStore.js';
import type { DeviceFlowSignalName, DeviceFlowSignals } from './delivery.js';
import { FlowRunner } from './runner.js';
import { SignalEmitter } from './signals.js';

/**
 * Options of {@link OAuth2DeviceAuthorizationFlow}: every writable property, plus how the flow's actor runs.
 *
 * @see [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1) and [§3.4](https://www.rfc-editor.org/rfc/rfc8628#section-3.4): the requests these options shape
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 * @see [Qt's QAbstractOAuth2](https://doc.qt.io/qt-6/qabstractoauth2.html)
 */
export interface DeviceFlowOptions extends FlowSettingsInput {
  /** The client secret (Qt's `clientIdentifierSharedKey`); empty for a public client. */
  clientIdentifierSharedKey?: string;
  /** The `fetch` for every request (mTLS, proxies, test doubles); the global `fetch` by default. */
  fetch?: FetchFunction;
  /** Qt's `networkRequestModifier`: changes each request before it is sent. */
  networkRequestModifier?: RequestModifier | null;
  /** Qt's `modifyParametersFunction`: changes the form parameters of each request. */
  modifyParametersFunction?: ParameterModifier | null;
  /** Milliseconds a request may take, body included; 30 000 by default. */
  requestTimeout?: number;
  /** The largest response body accepted, in bytes; 1 MiB by default. */
  maxResponseBytes?: number;
  /**
   * The actor's clock, e.g. XState's `SimulatedClock` in tests. By default, wall-clock timers that never fire early
   * and do not keep a Node.js process alive once tokens are granted.
   */
  clock?: Clock;
  /** Receives the actor's inspection events (`createActor`'s `inspect` option), e.g. for the Stately inspector. */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /**
   * A flow saved with {@link OAuth2DeviceAuthorizationFlow.snapshot} (or its JSON text), to resume: the same user code,
   * expiry and polling interval, waiting only the time that is left. Settings given alongside replace the saved ones.
   */
  snapshot?: DeviceFlowSnapshot | string;
  /**
   * Where the flow keeps what it holds between processes: it is saved there after every step that changes the user
   * code, the tokens or the outcome (not after every poll). `OAuth2DeviceAuthorizationFlow.load()` resumes from it, and
   * `freshAccessToken()` re-reads it, under its lock, before refreshing.
   */
  tokenStore?: TokenStore;
  /**
   * A key pair to bind the tokens to with DPoP (RFC 9449): every poll and refresh carries a proof made with it, and
   * `authorizedFetch()` proves it to resource servers. `generateDpopKeyPair()` makes one. A server without DPoP
   * issues a `Bearer` token nonetheless; `tokenType` says which it did.
   */
  dpopKeyPair?: CryptoKeyPair;
}

/** Whether the first flow has given the class its property accessors. */
let accessorsDefined = false;

/**
 * The OAuth 2.0 Device Authorization Grant with the API of Qt 6.9's `QOAuth2DeviceAuthorizationFlow`: the same
 * properties, methods and signals, over an XState statechart that holds all the flow's logic.
 *
 * @example
 * ```ts
 * const flow = new OAuth2DeviceAuthorizationFlow({
 *   authorizationUrl: 'https://login.example.com/oauth/device',
 *   tokenUrl: 'https://login.example.com/oauth/token',
 *   clientIdentifier: 'my-tv-app',
 *   requestedScopeTokens: ['openid', 'offline_access'],
 * });
 * flow.on('authorizeWithUserCode', (url, code, complete) => showCode(url, code, complete));
 * flow.on('granted', () => useToken(flow.token));
 * flow.on('requestFailed', (error) => showError(error.code));
 * flow.grant();
 * ```
 * @see [RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 */
export class OAuth2DeviceAuthorizationFlow {
  readonly #signals = new SignalEmitter<DeviceFlowSignals>();
  readonly #transport: Transport;
  readonly #runner: FlowRunner;
  readonly #dpop: DpopKey | null;
  /** Resource servers' DPoP nonces, by origin; made by the first `authorizedFetch()` (a waiting flow needs none). */
  #resourceNonces: Map<string, string> | null = null;
  /** The refresh under the store's lock under way, which `freshAccessToken()` and `authorizedFetch()` calls share. */
  #freshening: Promise<string> | null = null;
  readonly #store: TokenStore | null;
  readonly #sync: StoreSync | null;
  /**
   * Calls waiting for an outcome of the statechart (`revokeTokens()`, a refresh for `authorizedFetch()`): settled by
   * `dispose()`. Made by the first such call: a thousand waiting flows need none.
   */
  #waiting: Set<() => void> | null = null;

  /**
   * Creates an idle flow with `options` as its properties, or resumes the flow saved in `options.snapshot`.
   *
   * @throws {DeviceFlowError} `ClientError` when an option has the wrong type, or when the snapshot is unreadable, of
   *   another schema version, or does not fit.
   */
  constructor(options: DeviceFlowOptions = {}) {
    if (!accessorsDefined) OAuth2DeviceAuthorizationFlow.#defineProperties();
    // Once tokens are granted only the refresh signal's timer is left: it must not hold a Node.js process open, or a
    // script that got its token would wait until the token expires.
    const clock = options.clock ?? createPreciseClock(() => this.#runner.actor.getSnapshot().context.properties.status === 'Granted');
    const snapshot = typeof options.snapshot === 'string' ? parsedOrText(options.snapshot) : options.snapshot;
    this.#dpop = dpopKeyOf(options.dpopKeyPair, (snapshot as Partial<DeviceFlowSnapshot> | undefined)?.dpopKey);
    this.#transport = { ...transportOptions(options, clock), dpop: this.#dpop?.signer };
    this.#store = options.tokenStore ?? null;
    this.#sync =
      this.#store === null
        ? null
        : new StoreSync(
            this.#store,
            // A refresh in flight is not kept: the store gets its outcome (see StoreSync).
            () => (this.status === 'RefreshingToken' ? null : JSON.stringify(this.snapshot())),
            (error) => this.#signals.emit('saveFailed', error),
            () => [this.token, this.refreshToken, this.idToken, this.#transport.clientSecret],
          );
    // Registered before any listener of the application, and before resuming: a resumed flow that moves on saves.
    if (this.#sync !== null) for (const name of DURABLE_SIGNALS) this.#signals.on(name, () => this.#sync!.changed());
    this.#runner = new FlowRunner(this.#signals, {
      settings: options,
      snapshot: snapshot as DeviceFlowSnapshot | string | undefined,
      clock,
      inspect: options.inspect,
      transport: () => this.#transport,
    });
  }

  /**
   * A flow resumed from `options.tokenStore`: signed in, still waiting for the user, or idle when the store holds
   * nothing. It then saves there whenever what it holds changes.
   *
   * @throws {DeviceFlowError} `ClientError` when what the store holds is not a snapshot this release can resume (it is
   *   left as it is: clear the store to start over), or as the constructor throws.
   * @see [RFC 6819 §5.1.6](https://www.rfc-editor.org/rfc/rfc6819#section-5.1.6) on keeping tokens confidential
   * @example
   * ```ts
   * const flow = await OAuth2DeviceAuthorizationFlow.load({ ...options, tokenStore: createFileTokenStore(path) });
   * if (flow.status !== 'Granted') flow.grant();
   * ```
   */
  static async load(options: DeviceFlowOptions & { tokenStore: TokenStore }): Promise<OAuth2DeviceAuthorizationFlow> {
    const saved = await options.tokenStore.load();
    return new OAuth2DeviceAuthorizationFlow({ ...options, ...(saved === null ? {} : { snapshot: saved }) });
  }

  /**
   * Gives the class an accessor for each property of the statechart, declared with its documentation in the interface
   * below. Done by the first constructor, not as the class is defined, so that bundles that never create a flow can
   * drop the class.
   */
  static #defineProperties(): void {
    accessorsDefined = true;
    for (const name of PROPERTY_NAMES) {
      const setter = function (this: OAuth2DeviceAuthorizationFlow, value: unknown) {
        this.#set(name as SettingName, value as never);
      };
      Object.defineProperty(OAuth2DeviceAuthorizationFlow.prototype, name, {
        get(this: OAuth2DeviceAuthorizationFlow) {
          return this.#runner.read(name);
        },
        ...(PROPERTIES[name].writable ? { set: setter } : {}),
        configurable: true,
      });
    }
  }

  // ── Signals ────────────────────────────────────────────────────────────────────────────────────────────────────

  /** Adds a listener for signal `name`; returns the function that removes it. */
  on<K extends DeviceFlowSignalName>(name: K, listener: (...args: DeviceFlowSignals[K]) => void): () => void {
    this.#alive();
    return this.#signals.on(name, listener);
  }

  // ── Methods ────────────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Starts a new authorization: forgets the previous one (aborting a flow in progress silently, as Qt does), requests
   * a user code, then polls. Missing endpoints fail at once with `requestFailed('ClientError')`.
   *
   * @see [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1)
   */
  grant(): void {
    this.#send({ type: 'GRANT' });
  }

  /**
   * Refreshes the access token with the refresh token. Refused with `requestFailed('ClientError')`, synchronously,
   * while polling or without a refresh token or token URL; a call while a refresh is in flight does nothing.
   *
   * @see [RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)
   */
  refreshTokens(): void {
    this.#send({ type: 'REFRESH' });
  }

  /**
   * An alias of {@link refreshTokens}: the public slot of Qt's pre-release 6.9 snapshots, kept for code written against
   * them (released Qt 6.9 has only `refreshTokens()`).
   *
   * @see [RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)
   */
  refreshAccessToken(): void {
    this.refreshTokens();
  }

  /**
   * Resumes polling with the user code already out, without a new authorization request; the first poll goes out one
   * interval later.
   *
   * @returns `true` when polling runs (also when it already did); `false` after `requestFailed` with `ClientError`
   *   (no device code or token URL) or `ExpiredError` (the code expired, or would before the first poll).
   */
  startTokenPolling(): boolean {
    this.#send({ type: 'START_POLLING' });
    return this.#runner.actor.getSnapshot().context.properties.polling;
  }

  /** Stops polling, aborting a poll in flight silently; the user code stays, so polling can resume. */
  stopTokenPolling(): void {
    this.#send({ type: 'STOP_POLLING' });
  }

  /**
   * Signs out: posts the refresh token, then the access token, to `revocationUrl` with the token endpoint's client
   * authentication, then forgets the tokens (their `…Changed` signals, then `revoked`) whatever the server said. A
   * flow in progress is abandoned first, as `grant()` abandons one.
   *
   * @returns a promise that resolves when the server revoked the tokens (or there were none), and rejects with a
   *   `DeviceFlowError` when it refused, could not be reached, or no revocation URL is set: the tokens are forgotten
   *   here all the same, but may still be valid at the server.
   * @see [RFC 7009 §2](https://www.rfc-editor.org/rfc/rfc7009#section-2)
   */
  revokeTokens(): Promise<void> {
    this.#alive();
    const outcome = new Promise<void>((resolve, reject) => {
      const disposed = () => reject(new DeviceFlowError('ClientError', 'The flow was disposed before the tokens were revoked'));
      const stop = this.#signals.on('revoked', (error) => {
        stop();
        this.#waiting?.delete(disposed);
        if (error === null) resolve();
        else reject(error);
      });
      (this.#waiting ??= new Set()).add(disposed);
    });
    this.#send({ type: 'REVOKE' });
    return outcome;
  }

  /**
   * `fetch` with the access token: `Authorization: Bearer …`, or for a DPoP-bound token (`tokenType` `DPoP`)
   * `Authorization: DPoP …` with a proof that carries the token's hash. A resource server's `use_dpop_nonce`
   * challenge gets one retry with its nonce; a `401` with `error="invalid_token"` gets one refresh when a refresh token
   * is at hand, then one retry. That refresh is `freshAccessToken()`'s: shared by concurrent calls, under the token
   * store's lock, after re-reading the store (another process's newer tokens are taken instead); a refused refresh
   * token is forgotten. Redirects are followed within the origin only;
   * the token never leaves it, and never travels over plain HTTP (loopback and `allowInsecureHttp` aside).
   *
   * @throws {DeviceFlowError} `ClientError` without an access token, or for a URL the token must not go to.
   * @see [RFC 6750 §2.1](https://www.rfc-editor.org/rfc/rfc6750#section-2.1)
   * @see [RFC 9449 §7](https://www.rfc-editor.org/rfc/rfc9449#section-7)
   */
  authorizedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    this.#alive();
    return authorizedFetch(
      {
        fetch: this.#transport.fetch,
        // Tokens on their way to revocation are not sent anywhere else.
        token: () => ({ accessToken: this.#runner.actor.getSnapshot().matches('revoking') ? '' : this.token, tokenType: this.tokenType }),
        dpop: this.#dpop?.signer,
        nonces: (this.#resourceNonces ??= new Map()),
        allowInsecureHttp: this.allowInsecureHttp,
        now: this.#transport.now,
        refresh: (rejected) => this.#replace(rejected),
      },
      input,
      init,
    );
  }

  /**
   * An access token valid for at least `minValidity` seconds (by default `refreshLeadTime`, or a minute when that is
   * 0), refreshing first when the one in hand is not: under the token store's lock, after re-reading the store (another
   * process may have refreshed already, spending the refresh token this flow holds), and saving the new tokens before
   * the lock is released. Concurrent calls share one refresh. A server that issues shorter-lived tokens gets its
   * token returned as it is.
   *
   * @throws {DeviceFlowError} when a new sign-in is needed — the refresh token was refused (`invalid_grant`: the tokens
   *   are then forgotten) or there is none (`ClientError` with `error: 'login_required'`); `isSignInRequired(error)`
   *   tells these apart from a refresh that failed for a passing reason (`NetworkError`, `ServerError`), after which
   *   the tokens stay.
   * @see [RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)
   */
  freshAccessToken({ minValidity }: { minValidity?: number } = {}): Promise<string> {
    this.#alive();
    const margin = requireNonNegativeNumber(minValidity ?? (this.refreshLeadTime || DEFAULT_MIN_VALIDITY_SECONDS), 'minValidity') * 1000;
    const fresh = () => this.token !== '' && (this.expirationAt === null || this.expirationAt.getTime() - this.#transport.now() >= margin);
    if (fresh()) return Promise.resolve(this.token);
    return (this.#freshening ??= this.#freshen(fresh).finally(() => (this.#freshening = null)));
  }

  /**
   * Resolves once every change so far is in the token store (at once without one): await it before the process exits
   * right after a change. A save that failed was reported with `saveFailed`; this still resolves. A refresh in flight
   * is never saved (whoever loads the store meanwhile would send it again, outside the store's lock): changes made
   * during one are saved with its outcome, and this resolves then, or when the flow is disposed first.
   *
   * @see [RFC 6819 §5.1.6](https://www.rfc-editor.org/rfc/rfc6819#section-5.1.6)
   */
  saved(): Promise<void> {
    return this.#sync?.flush() ?? Promise.resolve();
  }

  /**
   * The flow as plain JSON, to resume later, in this process or another, with
   * `new OAuth2DeviceAuthorizationFlow({ ...options, snapshot })`.
   *
   * The snapshot holds the device code and the tokens: store it like a credential. The client secret is not in it.
   */
  snapshot(): DeviceFlowSnapshot {
    const snapshot = createFlowSnapshot(this.#runner.actor.getPersistedSnapshot(), this.#transport.now());
    return this.#dpop === null ? snapshot : { ...snapshot, dpopKey: this.#dpop.saved() };
  }

  /**
   * Stops everything silently: no signal fires afterwards, and no timer, socket or listener keeps the process alive.
   * Afterwards the getters, `snapshot()` and `toJSON()` read the last values; every other method and every setter
   * throws a `ClientError`, and `dispose()` does nothing.
   */
  dispose(): void {
    if (this.#runner.stopped) return;
    this.#signals.clear();
    this.#runner.stop();
    this.#sync?.close();
    if (this.#waiting === null) return;
    for (const settle of this.#waiting) settle();
    this.#waiting.clear();
  }

  // ── Transport options: what every request reads, kept out of the statechart ───────────────────────────────────────

  /** The client secret. It is sent to both endpoints, and never to the machine, an error or a log. */
  get clientIdentifierSharedKey(): string {
    return this.#transport.clientSecret;
  }
  set clientIdentifierSharedKey(value: string) {
    this.#alive();
    this.#transport.clientSecret = requireString(value, 'clientIdentifierSharedKey');
  }
  /**
   * The `fetch` used for every request; `undefined` for the global one. On Node.js, `createUndiciFetch()` from
   * `oauth2-device-flow/node` costs half the CPU per poll.
   */
  get fetch(): FetchFunction | undefined {
    return this.#transport.fetch;
  }
  set fetch(value: FetchFunction | undefined) {
    this.#alive();
    this.#transport.fetch = value;
  }
  /** Changes each request before it is sent (Qt's `networkRequestModifier`). */
  get networkRequestModifier(): RequestModifier | null {
    return this.#transport.requestModifier ?? null;
  }
  set networkRequestModifier(value: RequestModifier | null) {
    this.#alive();
    this.#transport.requestModifier = value ?? undefined;
  }
  /** Changes the form parameters of each request (Qt's `modifyParametersFunction`). */
  get modifyParametersFunction(): ParameterModifier | null {
    return this.#transport.parameterModifier ?? null;
  }
  set modifyParametersFunction(value: ParameterModifier | null) {
    this.#alive();
    this.#transport.parameterModifier = value ?? undefined;
  }
  /** Milliseconds a request may take, body included. */
  get requestTimeout(): number {
    return this.#transport.requestTimeout;
  }
  set requestTimeout(value: number) {
    this.#alive();
    this.#transport.requestTimeout = requirePositiveNumber(value, 'requestTimeout');
  }
  /** The largest response body accepted, in bytes. */
  get maxResponseBytes(): number {
    return this.#transport.maxResponseBytes;
  }
  set maxResponseBytes(value: number) {
    this.#alive();
    this.#transport.maxResponseBytes = requirePositiveNumber(value, 'maxResponseBytes');
  }

  /** A summary without secrets: what `JSON.stringify(flow)` writes. */
  toJSON(): Record<string, unknown> {
    return {
      status: this.status,
      polling: this.polling,
      userCode: this.userCode,
      verificationUrl: this.verificationUrl?.href ?? null,
      userCodeExpirationAt: this.userCodeExpirationAt?.toISOString() ?? null,
      expirationAt: this.expirationAt?.toISOString() ?? null,
      grantedScopeTokens: this.grantedScopeTokens,
      hasToken: this.token !== '',
      hasRefreshToken: this.refreshToken !== '',
      hasIdToken: this.idToken !== '',
    };
  }

  /** What `console.log(flow)` and `util.inspect(flow)` show in Node.js: the same summary without secrets. */
  [Symbol.for('nodejs.util.inspect.custom')](_depth: number, options: object, inspect: (value: unknown, options: object) => string): string {
    return `OAuth2DeviceAuthorizationFlow ${inspect(this.toJSON(), options)}`;
  }

  /** The running actor, for inspection and advanced use; prefer the class API for driving the flow. */
  get actor(): Actor<DeviceAuthorizationMachine> {
    return this.#runner.actor;
  }

  // ── Plumbing ───────────────────────────────────────────────────────────────────────────────────────────────────

  #alive(): void {
    if (this.#runner.stopped) throw new DeviceFlowError('ClientError', 'The flow was disposed');
  }

  #send(event: { type: 'GRANT' | 'REFRESH' | 'START_POLLING' | 'STOP_POLLING' | 'REVOKE' }): void {
    this.#alive();
    this.#runner.send(event);
  }

  /** One refresh: whether it brought new tokens, and why not. */
  #refreshOnce(): Promise<RefreshOutcome> {
    if (this.refreshToken === '' || this.#runner.stopped) return Promise.resolve({ refreshed: false, error: null });
    return new Promise((resolve) => {
      const settle = (outcome: RefreshOutcome) => {
        for (const stop of stops) stop();
        this.#waiting?.delete(disposed);
        resolve(outcome);
      };
      const disposed = () => settle({ refreshed: false, error: new DeviceFlowError('ClientError', 'The flow was disposed') });
      // The refresh ends in new tokens or a failure; revokeTokens() or dispose() may abandon it.
      const stops = [
        this.#signals.on('granted', () => settle({ refreshed: true, error: null })),
        this.#signals.on('requestFailed', (error) => settle({ refreshed: false, error })),
        this.#signals.on('revoked', () => settle({ refreshed: false, error: new DeviceFlowError('ClientError', 'The tokens were revoked') })),
      ];
      (this.#waiting ??= new Set()).add(disposed);
      // Joins a refresh already under way (autoRefresh), or starts one; a refused one fails at once.
      this.#runner.send({ type: 'REFRESH' });
    });
  }

  /**
   * `authorizedFetch()`'s refresh after a `401`: `true` when the flow then holds an access token other than `rejected`,
   * taken from the store (another process refreshed) or refreshed, under the store's lock as `freshAccessToken()`'s.
   * A refused refresh token is forgotten as there; any failure leaves the `401` to the caller.
   */
  async #replace(rejected: string): Promise<boolean> {
    const replaced = () => this.token !== '' && this.token !== rejected;
    try {
      // Joins a refresh under way; a second one only when that one did not replace the token.
      await this.#freshening?.catch(() => undefined);
      if (!replaced()) await (this.#freshening ??= this.#freshen(replaced).finally(() => (this.#freshening = null)));
    } catch {
      // No refresh token, or a refresh that failed (reported with requestFailed): the 401 stands.
    }
    return replaced();
  }

  /** `freshAccessToken()`'s refresh, under the store's lock when it has one. */
  #freshen(fresh: () => boolean): Promise<string> {
    const work = async () => {
      if ((await this.#adoptStored()) && fresh()) return this.token;
      if (fresh()) return this.token;
      if (this.refreshToken === '') throw new DeviceFlowError('ClientError', 'No refresh token: sign in again with grant()', { error: 'login_required' });
      const { refreshed, error } = await this.#refreshOnce();
      if (!refreshed) {
        const failure = error ?? new DeviceFlowError('ClientError', 'The refresh did not complete');
        if (!isSignInRequired(failure)) throw failure;
        // Spent by another process's rotation, perhaps: its tokens are in the store then.
        if ((await this.#adoptStored()) && this.token !== '') return this.token;
        this.#runner.send({ type: 'FORGET_TOKENS' });
        await this.#sync?.flush();
        throw failure;
      }
      await this.#sync?.flush();
      return this.token;
    };
    return this.#store?.lock ? this.#store.lock(work) : work();
  }

  /**
   * Takes the tokens the store holds when another flow of the same sign-in put newer ones there; `true` when it did.
   * What the store holds that cannot be read is no reason to fail: the flow goes on with its own.
   */
  async #adoptStored(): Promise<boolean> {
    if (this.#store === null) return false;
    let tokens;
    try {
      const text = await this.#store.load();
      if (text === null) return false;
      tokens = storedTokensOf(text);
    } catch {
      return false;
    }
    const same = tokens.token === this.token && tokens.refreshToken === this.refreshToken;
    const older = (tokens.expirationAt ?? 0) < (this.expirationAt?.getTime() ?? 0);
    if (same || older || tokens.token === '' || this.#runner.stopped) return false;
    this.#runner.send({ type: 'ADOPT_TOKENS', tokens });
    return true;
  }

  #set<K extends SettingName>(name: K, value: FlowSettingsInput[K]): void {
    this.#alive();
    this.#runner.send({ type: 'UPDATE', settings: readSettings({ [name]: value }) });
  }
}

/** What a refresh for `authorizedFetch()` or `freshAccessToken()` came to. */
interface RefreshOutcome {
  refreshed: boolean;
  error: DeviceFlowError | null;
}

/** How long `freshAccessToken()` wants a token to stay valid, in seconds, when `refreshLeadTime` leaves it to the flow. */
const DEFAULT_MIN_VALIDITY_SECONDS = 60;

/**
 * The signals after which the flow's store is saved: every property but the polling bookkeeping, and the outcomes.
 * `polling` and `nextPollAt` change with every poll, and a resumed flow recomputes them.
 */
const DURABLE_SIGNALS = [
  ...PROPERTY_NAMES.filter((name) => name !== 'polling' && name !== 'nextPollAt').map((name) => `${name}Changed` as const),
  'granted',
  'requestFailed',
  'revoked',
] as const satisfies readonly DeviceFlowSignalName[];

/** The JSON text of a snapshot, parsed; left as it is when it does not parse, for the snapshot's own check to say so. */
function parsedOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

type Transport = TransportOptions & { clientSecret: string; requestTimeout: number; maxResponseBytes: number; now: () => number };

/** The options the flow's requests read, checked; the class's setters change them in place. */
function transportOptions(options: DeviceFlowOptions, clock: Clock): Transport {
  return {
    // The services check the code's expiry on the same clock as the statechart.
    now: typeof clock.now === 'function' ? () => clock.now!() : Date.now,
    fetch: options.fetch,
    clientSecret: requireString(options.clientIdentifierSharedKey ?? '', 'clientIdentifierSharedKey'),
    requestModifier: options.networkRequestModifier ?? undefined,
    parameterModifier: options.modifyParametersFunction ?? undefined,
    requestTimeout: requirePositiveNumber(options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS, 'requestTimeout'),
    maxResponseBytes: requirePositiveNumber(options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, 'maxResponseBytes'),
  };
}

/**
 * The properties of {@link OAuth2DeviceAuthorizationFlow} that the statechart holds (see `PROPERTIES`): read as last
 * announced, so that inside a listener they read as they did when its signal was emitted; the writable ones are
 * checked and set as one step of the statechart, announcing the change.
 *
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 */
export interface OAuth2DeviceAuthorizationFlow {
  /** Where the flow stands. */
  readonly status: FlowStatus;
  /** Whether the flow is polling the token endpoint. */
  readonly polling: boolean;
  /** The user code to show; empty when none is out. */
  readonly userCode: string;
  /** Where the user enters the code. */
  readonly verificationUrl: URL | null;
  /** The verification URL with the code in it (for a QR code); `null` when the server sent none. */
  readonly completeVerificationUrl: URL | null;
  /** When the user code expires. */
  readonly userCodeExpirationAt: Date | null;
  /** When the next poll goes out; `null` while not polling. For countdowns. */
  readonly nextPollAt: Date | null;
  /**
   * The ID token, when the `openid` scope was granted. Validated when `issuer` is set (then `idTokenClaims` holds its
   * claims); taken as it came otherwise.
   *
   * @see [OpenID Connect Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation)
   */
  readonly idToken: string;
  /**
   * The claims of the ID token, once validated (`iss`, `sub`, `aud`, `exp`…); `null` without an ID token, or when it
   * was not validated because no `issuer` is set.
   *
   * @see [OpenID Connect Core §2](https://openid.net/specs/openid-connect-core-1_0.html#IDToken)
   */
  readonly idTokenClaims: Readonly<Record<string, unknown>> | null;
  /** When the access token expires; `null` when the server did not say. */
  readonly expirationAt: Date | null;
  /** The granted scope tokens. */
  readonly grantedScopeTokens: readonly string[];
  /** Non-standard members of the server's responses, e.g. Microsoft's `message`. */
  readonly extraTokens: Readonly<Record<string, unknown>>;
  /**
   * The device authorization endpoint.
   *
   * @see [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1)
   */
  get authorizationUrl(): URL | null;
  set authorizationUrl(value: string | URL | null);
  /**
   * The token endpoint, polled with the device code and used for refreshes.
   *
   * @see [RFC 8628 §3.4](https://www.rfc-editor.org/rfc/rfc8628#section-3.4)
   */
  get tokenUrl(): URL | null;
  set tokenUrl(value: string | URL | null);
  /** The `client_id`. */
  clientIdentifier: string;
  /**
   * How the client authenticates when a secret is set: `client_secret_post` (default), `client_secret_basic` or `none`.
   *
   * @see [RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1)
   */
  clientAuthentication: ClientAuthenticationMethod;
  /**
   * The scope tokens to request, in the order they are sent; invalid tokens are refused with `ClientError`.
   *
   * @see [RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)
   */
  get requestedScopeTokens(): readonly string[];
  set requestedScopeTokens(value: Iterable<string>);
  /** When to send a nonce: `Automatic` (with the `openid` scope), `Enabled` or `Disabled`. */
  nonceMode: NonceMode;
  /** The nonce sent with the authorization request; `grant()` generates one when one is needed and this is empty. */
  nonce: string;
  /** Refresh by itself when `accessTokenAboutToExpire` fires and a refresh token is at hand. */
  autoRefresh: boolean;
  /** Seconds before expiry at which `accessTokenAboutToExpire` fires; 0 lets the flow choose, as Qt's does. */
  refreshLeadTime: number;
  /** The access token. */
  token: string;
  /**
   * The refresh token; kept when a token response omits it.
   *
   * @see [RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)
   */
  refreshToken: string;
  /** Allow plain `http:` endpoints that are not on this machine (loopback is always allowed). */
  allowInsecureHttp: boolean;
  /**
   * The access token's type as the server said it: `Bearer`, `DPoP` (bound to `dpopKeyPair`), or another; empty when
   * not known. `authorizedFetch()` follows it.
   *
   * @see [RFC 6749 §7.1](https://www.rfc-editor.org/rfc/rfc6749#section-7.1)
   * @see [RFC 9449 §5](https://www.rfc-editor.org/rfc/rfc9449#section-5)
   */
  tokenType: string;
  /**
   * The issuer identifier, kept exactly as given (an ID token's `iss` must equal it character for character). With
   * it, an ID token is validated before it is taken (signature, `iss`, `aud`, `exp`, nonce…), which needs `jwksUrl`
   * too; `discover()` finds both.
   *
   * @see [OpenID Connect Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation)
   */
  get issuer(): string | null;
  set issuer(value: string | URL | null);
  /**
   * The issuer's JSON Web Key Set, which verifies ID token signatures.
   *
   * @see [RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2) (`jwks_uri`)
   */
  get jwksUrl(): URL | null;
  set jwksUrl(value: string | URL | null);
  /**
   * The revocation endpoint `revokeTokens()` posts to.
   *
   * @see [RFC 7009 §2](https://www.rfc-editor.org/rfc/rfc7009#section-2)
   */
  get revocationUrl(): URL | null;
  set revocationUrl(value: string | URL | null);
  /**
   * The JWS algorithms an ID token may be signed with: the asymmetric ones by default; `none` and HMAC never.
   *
   * @see [RFC 7518 §3.1](https://www.rfc-editor.org/rfc/rfc7518#section-3.1)
   */
  get idTokenSigningAlgorithms(): readonly SigningAlgorithm[];
  set idTokenSigningAlgorithms(value: Iterable<SigningAlgorithm>);
  /** Seconds of clock difference with the issuer tolerated when checking an ID token's `exp` and `iat` (5 by default). */
  clockTolerance: number;
  /**
   * Transport faults in a row that polling rides out with back-off before failing with `NetworkError`; `null` (the
   * default) until the code expires, 0 at the first fault, as Qt.
   *
   * @see [RFC 8628 §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5)
   */
  maxConsecutiveFailures: number | null;
  /**
   * The most milliseconds added at random to the polling interval before each poll: 40 by default, at most 1000; 0
   * polls exactly at the interval, as Qt does. Flows answered together (a garbage-collection pause, the end of an
   * outage) then do not keep polling together. Polls are never early: the jitter is only ever added. The draws come
   * from the clock's `random()` when it has one (a seeded source for tests), else `Math.random()`.
   *
   * @see [RFC 8628 §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5)
   */
  pollJitter: number;
}
