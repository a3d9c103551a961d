/**
 * `OAuth2DeviceAuthorizationFlow`: the statechart behind the API of Qt 6.9's `QOAuth2DeviceAuthorizationFlow`.
 *
 * @module
 */

import { type Actor, type ActorOptions, createActor, type InspectionEvent, type Observer, type Snapshot } from 'xstate';
import type { DeviceAuthorizationMachine } from '../machines/deviceAuthorization.js';
import type { DeviceFlowEmitted, FlowProperties, FlowSettings, FlowStatus, NonceMode } from '../machines/types.js';
import { DeviceFlowError } from './errors.js';
import type { FetchFunction } from './http/sendRequest.js';
import { type Clock, createPreciseClock, steppingClock } from './clocks.js';
import { createDeviceAuthorizationMachine } from './machine.js';
import type { ClientAuthenticationMethod } from './protocol/requests.js';
import { DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REQUEST_TIMEOUT_MS, type ParameterModifier, type RequestModifier, type TransportOptions } from './services.js';
import { createFlowSnapshot, type DeviceFlowSnapshot, readFlowSnapshot, resumable } from './persistence.js';
import { redactSecrets } from './redact.js';
import { type FlowSettingsInput, normalizeSettings, requirePositiveNumber, requireString } from './settings.js';
import { reportLater, SignalEmitter } from './signals.js';

/**
 * The signals of {@link OAuth2DeviceAuthorizationFlow} and the arguments their listeners get: Qt's signals, with URLs
 * as `URL` objects and times as `Date`s. Every `…Changed` signal fires only when the value changes.
 *
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 * @see [RFC 8628 §3.3](https://www.rfc-editor.org/rfc/rfc8628#section-3.3) for `authorizeWithUserCode`
 */
export interface DeviceFlowSignals {
  /** The user must visit `verificationUrl` and enter `userCode` (or open `completeVerificationUrl`). */
  authorizeWithUserCode: [verificationUrl: URL, userCode: string, completeVerificationUrl: URL | null];
  /** Tokens were received, by the grant or by a refresh. */
  granted: [];
  /** A request failed, or a call was refused. */
  requestFailed: [error: DeviceFlowError];
  /** The server answered with an OAuth error; `requestFailed` follows. */
  serverReportedErrorOccurred: [error: string, errorDescription: string, uri: URL | null];
  /** The access token expires soon (Qt §6.3); with `autoRefresh` a refresh starts. */
  accessTokenAboutToExpire: [];
  /**
   * A poll hit a transport fault (connection refused or reset, timeout, a 429 or 5xx without an OAuth error); polling
   * goes on after `retryIn` milliseconds (RFC 8628 §3.5 back-off).
   */
  transientError: [error: DeviceFlowError, retryIn: number];
  statusChanged: [status: FlowStatus];
  pollingChanged: [polling: boolean];
  userCodeChanged: [userCode: string];
  verificationUrlChanged: [verificationUrl: URL | null];
  completeVerificationUrlChanged: [completeVerificationUrl: URL | null];
  userCodeExpirationAtChanged: [userCodeExpirationAt: Date | null];
  nextPollAtChanged: [nextPollAt: Date | null];
  tokenChanged: [token: string];
  refreshTokenChanged: [refreshToken: string];
  idTokenChanged: [idToken: string];
  expirationAtChanged: [expirationAt: Date | null];
  grantedScopeTokensChanged: [grantedScopeTokens: readonly string[]];
  extraTokensChanged: [extraTokens: Readonly<Record<string, unknown>>];
  authorizationUrlChanged: [authorizationUrl: URL | null];
  tokenUrlChanged: [tokenUrl: URL | null];
  clientIdentifierChanged: [clientIdentifier: string];
  clientAuthenticationChanged: [clientAuthentication: ClientAuthenticationMethod];
  requestedScopeTokensChanged: [requestedScopeTokens: readonly string[]];
  nonceModeChanged: [nonceMode: NonceMode];
  nonceChanged: [nonce: string];
  autoRefreshChanged: [autoRefresh: boolean];
  refreshLeadTimeChanged: [refreshLeadTime: number];
  allowInsecureHttpChanged: [allowInsecureHttp: boolean];
  maxConsecutiveFailuresChanged: [maxConsecutiveFailures: number | null];
}

/**
 * The name of a signal of {@link OAuth2DeviceAuthorizationFlow}.
 *
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 */
export type DeviceFlowSignalName = keyof DeviceFlowSignals;

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
}

const URL_PROPERTIES = new Set<keyof FlowProperties>(['authorizationUrl', 'tokenUrl', 'verificationUrl', 'completeVerificationUrl']);
const TIME_PROPERTIES = new Set<keyof FlowProperties>(['userCodeExpirationAt', 'expirationAt', 'nextPollAt']);

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
  #actor: Actor<DeviceAuthorizationMachine>;
  readonly #transport: Required<Pick<TransportOptions, 'requestTimeout' | 'maxResponseBytes'>> & TransportOptions;
  /** How the actor runs: its clock and inspection observer, kept to start a replacement after an unexpected error. */
  readonly #actorOptions: Pick<ActorOptions<DeviceAuthorizationMachine>, 'clock' | 'inspect'>;
  /** The properties as announced so far: inside a listener they read as they did when that signal was emitted. */
  readonly #view: FlowProperties;
  /** Emitted events waiting to reach the listeners; they are delivered once the actor has finished its step. */
  readonly #undelivered: DeviceFlowEmitted[] = [];
  #steps = 0;
  #delivering = false;
  #deliveryScheduled = false;
  #disposed = false;
  /** Set while a failed actor is replaced; a second failure then means the statechart cannot even report it. */
  #recovering: { failedAgain: boolean } | null = null;
  /** The context of the actor's last completed step, and how many emitted events were queued since. */
  #committed: { context: object; since: number } = { context: {}, since: 0 };

  /**
   * Creates an idle flow with `options` as its properties, or resumes the flow saved in `options.snapshot`.
   *
   * @throws {DeviceFlowError} `ClientError` when an option has the wrong type, or when the snapshot is unreadable or of
   *   another schema version.
   */
  constructor(options: DeviceFlowOptions = {}) {
    // Once tokens are granted only the refresh signal's timer is left: it must not hold a Node.js process open, or a
    // script that got its token would wait until the token expires.
    const clock = options.clock ?? createPreciseClock(() => this.#actor.getSnapshot().hasTag('Granted'));
    this.#transport = {
      // The services check the code's expiry on the same clock as the statechart.
      now: typeof clock.now === 'function' ? () => clock.now!() : Date.now,
      fetch: options.fetch,
      clientSecret: requireString(options.clientIdentifierSharedKey ?? '', 'clientIdentifierSharedKey'),
      requestModifier: options.networkRequestModifier ?? undefined,
      parameterModifier: options.modifyParametersFunction ?? undefined,
      requestTimeout: requirePositiveNumber(options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS, 'requestTimeout'),
      maxResponseBytes: requirePositiveNumber(options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, 'maxResponseBytes'),
    };
    this.#actorOptions = {
      // Each timer fires a step of its own, after which its signals are delivered.
      clock: steppingClock(clock, (fire) => this.#step(fire)),
      ...(options.inspect === undefined ? {} : { inspect: guarded(options.inspect) }),
    };
    const settings = normalizeSettings(options);
    const persisted = options.snapshot === undefined ? undefined : readFlowSnapshot(options.snapshot);
    this.#actor = this.#launch({ input: settings, ...(persisted === undefined ? {} : { snapshot: persisted as object }) });
    if (persisted !== undefined) {
      // Settings given now win over the saved ones; then the timers and requests XState does not restore are set
      // going again, and a code that expired meanwhile is settled.
      this.#actor.send({ type: 'UPDATE', settings });
      this.#actor.send({ type: 'RESUME' });
    }
    // The properties read as resumed at once; the signals of resuming reach the listeners added right after this.
    this.#view = { ...this.#actor.getSnapshot().context.properties };
    this.#scheduleDelivery();
  }

  /** Creates and starts an actor of the shared machine, its emitted events queued for delivery. */
  #launch(options: { input?: Partial<FlowSettings>; snapshot?: object }): Actor<DeviceAuthorizationMachine> {
    const { input = {}, snapshot } = options;
    const actor = restorable(() =>
      createActor(sharedMachine(), { input, ...this.#actorOptions, ...(snapshot === undefined ? {} : { snapshot: snapshot as Snapshot<unknown> }) }),
    );
    transports.set(actor.system, () => this.#transport);
    actor.on('*', (event) => this.#enqueue(event));
    // A snapshot that does not fit fails the actor as it starts; report that here rather than as an unhandled error.
    const starting = actor.subscribe({ error: () => undefined });
    actor.start();
    starting.unsubscribe();
    const started = actor.getSnapshot();
    if (started.status === 'error') throw unfitSnapshot(started.error);
    // Later, an exception inside a step (a provided clock that threw) stops the actor: end the flow's work with
    // requestFailed instead of an uncaught error.
    this.#committed = { context: started.context, since: 0 };
    actor.subscribe({
      next: (snapshot) => void (this.#committed = { context: snapshot.context, since: 0 }),
      error: (error) => this.#recover(actor, error),
    });
    return actor;
  }

  /**
   * Replaces `failed` (stopped by `error` in the middle of a step) with an actor restored from its last completed step,
   * and sends it `FAIL`, so that the statechart ends what was in progress and reports `requestFailed` through its usual
   * announcements. The signals the failed step queued are dropped: its changes never happened.
   */
  #recover(failed: Actor<DeviceAuthorizationMachine>, error: unknown): void {
    if (this.#disposed || failed !== this.#actor) return;
    if (this.#recovering !== null) {
      this.#recovering.failedAgain = true;
      return;
    }
    // A step that threw before it completed changed nothing: its signals go. One whose effects threw afterwards did
    // complete (XState schedules timers after the step), and its signals stand.
    if (failed.getSnapshot().context === this.#committed.context) this.#undelivered.splice(this.#undelivered.length - this.#committed.since);
    const failure = redactSecrets(
      new DeviceFlowError('ClientError', `The flow stopped after an unexpected ${thrownKind(error)} in its statechart`, {}, { cause: error }),
      [this.#transport.clientSecret ?? ''],
    );
    const recovering: { failedAgain: boolean } = (this.#recovering = { failedAgain: false });
    try {
      this.#actor = this.#launch({ snapshot: resumable(failed.getPersistedSnapshot()) });
      this.#actor.send({ type: 'FAIL', error: failure });
    } catch {
      recovering.failedAgain = true;
    } finally {
      this.#recovering = null;
    }
    if (recovering.failedAgain) {
      // Not even the report went through: end here, as dispose() does, with the failure as the last signal.
      this.#undelivered.length = 0;
      this.#undelivered.push({ type: 'requestFailed', error: failure });
      this.#deliver();
      this.dispose();
      return;
    }
    this.#scheduleDelivery();
  }

  // ── Signals ────────────────────────────────────────────────────────────────────────────────────────────────────

  /** Adds a listener for signal `name`; returns the function that removes it. */
  on<K extends DeviceFlowSignalName>(name: K, listener: (...args: DeviceFlowSignals[K]) => void): () => void {
    return this.#signals.on(name, listener);
  }

  // ── Methods ────────────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Starts a new authorization: forgets the previous one (aborting a flow in progress silently, as Qt §2.1), requests
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
    return this.#step(() => {
      this.#send({ type: 'START_POLLING' });
      return this.#actor.getSnapshot().context.properties.polling;
    });
  }

  /** Stops polling, aborting a poll in flight silently; the user code stays, so polling can resume. */
  stopTokenPolling(): void {
    if (!this.#disposed) this.#step(() => this.#actor.send({ type: 'STOP_POLLING' }));
  }

  /**
   * The flow as plain JSON, to resume later, in this process or another, with
   * `new OAuth2DeviceAuthorizationFlow({ ...options, snapshot })`.
   *
   * The snapshot holds the device code and the tokens: store it like a credential. The client secret is not in it.
   */
  snapshot(): DeviceFlowSnapshot {
    return createFlowSnapshot(this.#actor.getPersistedSnapshot(), this.#transport.now!());
  }

  /**
   * Stops everything silently: no signal fires afterwards, and no timer, socket or listener keeps the process alive.
   * Properties keep their last values.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#signals.clear();
    this.#undelivered.length = 0;
    this.#actor.stop();
  }

  // ── Read-only properties ───────────────────────────────────────────────────────────────────────────────────────

  /** Where the flow stands. */
  get status(): FlowStatus {
    return this.#view.status;
  }
  /** Whether the flow is polling the token endpoint. */
  get polling(): boolean {
    return this.#view.polling;
  }
  /** The user code to show; empty when none is out. */
  get userCode(): string {
    return this.#view.userCode;
  }
  /** Where the user enters the code. */
  get verificationUrl(): URL | null {
    return present('verificationUrl', this.#view.verificationUrl) as URL | null;
  }
  /** The verification URL with the code in it (for a QR code); `null` when the server sent none. */
  get completeVerificationUrl(): URL | null {
    return present('completeVerificationUrl', this.#view.completeVerificationUrl) as URL | null;
  }
  /** When the user code expires. */
  get userCodeExpirationAt(): Date | null {
    return present('userCodeExpirationAt', this.#view.userCodeExpirationAt) as Date | null;
  }
  /** When the next poll goes out; `null` while not polling. For countdowns. */
  get nextPollAt(): Date | null {
    return present('nextPollAt', this.#view.nextPollAt) as Date | null;
  }
  /** The ID token, when the `openid` scope was granted. Not validated. */
  get idToken(): string {
    return this.#view.idToken;
  }
  /** When the access token expires; `null` when the server did not say. */
  get expirationAt(): Date | null {
    return present('expirationAt', this.#view.expirationAt) as Date | null;
  }
  /** The granted scope tokens. */
  get grantedScopeTokens(): readonly string[] {
    return present('grantedScopeTokens', this.#view.grantedScopeTokens) as readonly string[];
  }
  /** Non-standard members of the server's responses, e.g. Microsoft's `message`. */
  get extraTokens(): Readonly<Record<string, unknown>> {
    return present('extraTokens', this.#view.extraTokens) as Readonly<Record<string, unknown>>;
  }

  // ── Writable properties ────────────────────────────────────────────────────────────────────────────────────────

  /**
   * The device authorization endpoint.
   *
   * @see [RFC 8628 §3.1](https://www.rfc-editor.org/rfc/rfc8628#section-3.1)
   */
  get authorizationUrl(): URL | null {
    return present('authorizationUrl', this.#view.authorizationUrl) as URL | null;
  }
  set authorizationUrl(value: string | URL | null) {
    this.#update({ authorizationUrl: value });
  }
  /**
   * The token endpoint, polled with the device code and used for refreshes.
   *
   * @see [RFC 8628 §3.4](https://www.rfc-editor.org/rfc/rfc8628#section-3.4)
   */
  get tokenUrl(): URL | null {
    return present('tokenUrl', this.#view.tokenUrl) as URL | null;
  }
  set tokenUrl(value: string | URL | null) {
    this.#update({ tokenUrl: value });
  }
  /** The `client_id`. */
  get clientIdentifier(): string {
    return this.#view.clientIdentifier;
  }
  set clientIdentifier(value: string) {
    this.#update({ clientIdentifier: value });
  }
  /** The client secret. It is sent to both endpoints, and never to the machine, an error or a log. */
  get clientIdentifierSharedKey(): string {
    return this.#transport.clientSecret ?? '';
  }
  set clientIdentifierSharedKey(value: string) {
    this.#transport.clientSecret = requireString(value, 'clientIdentifierSharedKey');
  }
  /**
   * How the client authenticates when a secret is set: `client_secret_post` (default), `client_secret_basic` or `none`.
   *
   * @see [RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1)
   */
  get clientAuthentication(): ClientAuthenticationMethod {
    return this.#view.clientAuthentication;
  }
  set clientAuthentication(value: ClientAuthenticationMethod) {
    this.#update({ clientAuthentication: value });
  }
  /**
   * The scope tokens to request; invalid tokens are refused with `ClientError`.
   *
   * @see [RFC 6749 §3.3](https://www.rfc-editor.org/rfc/rfc6749#section-3.3)
   */
  get requestedScopeTokens(): readonly string[] {
    return present('requestedScopeTokens', this.#view.requestedScopeTokens) as readonly string[];
  }
  set requestedScopeTokens(value: Iterable<string>) {
    this.#update({ requestedScopeTokens: value });
  }
  /** When to send a nonce: `Automatic` (with the `openid` scope), `Enabled` or `Disabled`. */
  get nonceMode(): NonceMode {
    return this.#view.nonceMode;
  }
  set nonceMode(value: NonceMode) {
    this.#update({ nonceMode: value });
  }
  /** The nonce sent with the authorization request; `grant()` generates one when one is needed and this is empty. */
  get nonce(): string {
    return this.#view.nonce;
  }
  set nonce(value: string) {
    this.#update({ nonce: value });
  }
  /** Refresh by itself when `accessTokenAboutToExpire` fires and a refresh token is at hand. */
  get autoRefresh(): boolean {
    return this.#view.autoRefresh;
  }
  set autoRefresh(value: boolean) {
    this.#update({ autoRefresh: value });
  }
  /** Seconds before expiry at which `accessTokenAboutToExpire` fires; 0 lets the flow choose (Qt §6.3). */
  get refreshLeadTime(): number {
    return this.#view.refreshLeadTime;
  }
  set refreshLeadTime(value: number) {
    this.#update({ refreshLeadTime: value });
  }
  /** The access token. */
  get token(): string {
    return this.#view.token;
  }
  set token(value: string) {
    this.#update({ token: value });
  }
  /**
   * The refresh token; kept when a token response omits it.
   *
   * @see [RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)
   */
  get refreshToken(): string {
    return this.#view.refreshToken;
  }
  set refreshToken(value: string) {
    this.#update({ refreshToken: value });
  }
  /** Allow plain `http:` endpoints that are not on this machine (loopback is always allowed). */
  get allowInsecureHttp(): boolean {
    return this.#view.allowInsecureHttp;
  }
  set allowInsecureHttp(value: boolean) {
    this.#update({ allowInsecureHttp: value });
  }
  /**
   * Transport faults in a row that polling rides out with back-off before failing with `NetworkError`; `null` (the
   * default) until the code expires, 0 at the first fault, as Qt.
   *
   * @see [RFC 8628 §3.5](https://www.rfc-editor.org/rfc/rfc8628#section-3.5)
   */
  get maxConsecutiveFailures(): number | null {
    return this.#view.maxConsecutiveFailures;
  }
  set maxConsecutiveFailures(value: number | null) {
    this.#update({ maxConsecutiveFailures: value });
  }
  /**
   * The `fetch` used for every request; `undefined` for the global one. On Node.js, `createUndiciFetch()` from
   * `oauth2-device-flow/node` costs half the CPU per poll.
   */
  get fetch(): FetchFunction | undefined {
    return this.#transport.fetch;
  }
  set fetch(value: FetchFunction | undefined) {
    this.#transport.fetch = value;
  }
  /** Changes each request before it is sent (Qt's `networkRequestModifier`). */
  get networkRequestModifier(): RequestModifier | null {
    return this.#transport.requestModifier ?? null;
  }
  set networkRequestModifier(value: RequestModifier | null) {
    this.#transport.requestModifier = value ?? undefined;
  }
  /** Changes the form parameters of each request (Qt's `modifyParametersFunction`). */
  get modifyParametersFunction(): ParameterModifier | null {
    return this.#transport.parameterModifier ?? null;
  }
  set modifyParametersFunction(value: ParameterModifier | null) {
    this.#transport.parameterModifier = value ?? undefined;
  }
  /** Milliseconds a request may take, body included. */
  get requestTimeout(): number {
    return this.#transport.requestTimeout;
  }
  set requestTimeout(value: number) {
    this.#transport.requestTimeout = requirePositiveNumber(value, 'requestTimeout');
  }
  /** The largest response body accepted, in bytes. */
  get maxResponseBytes(): number {
    return this.#transport.maxResponseBytes;
  }
  set maxResponseBytes(value: number) {
    this.#transport.maxResponseBytes = requirePositiveNumber(value, 'maxResponseBytes');
  }

  /** A summary without secrets: what `JSON.stringify(flow)` writes. */
  toJSON(): Record<string, unknown> {
    const view = this.#view;
    return {
      status: view.status,
      polling: view.polling,
      userCode: view.userCode,
      verificationUrl: view.verificationUrl,
      userCodeExpirationAt: this.userCodeExpirationAt?.toISOString() ?? null,
      expirationAt: this.expirationAt?.toISOString() ?? null,
      grantedScopeTokens: view.grantedScopeTokens,
      hasToken: view.token !== '',
      hasRefreshToken: view.refreshToken !== '',
      hasIdToken: view.idToken !== '',
    };
  }

  /** What `console.log(flow)` and `util.inspect(flow)` show in Node.js: the same summary without secrets. */
  [Symbol.for('nodejs.util.inspect.custom')](_depth: number, options: object, inspect: (value: unknown, options: object) => string): string {
    return `OAuth2DeviceAuthorizationFlow ${inspect(this.toJSON(), options)}`;
  }

  // ── Plumbing ───────────────────────────────────────────────────────────────────────────────────────────────────

  /** The running actor, for inspection and advanced use; prefer the class API for driving the flow. */
  get actor(): Actor<DeviceAuthorizationMachine> {
    return this.#actor;
  }

  #send(event: { type: 'GRANT' | 'REFRESH' | 'START_POLLING' }): void {
    if (this.#disposed) throw new DeviceFlowError('ClientError', 'The flow was disposed');
    this.#step(() => this.#actor.send(event));
  }

  #update(input: FlowSettingsInput): void {
    const settings: Partial<FlowSettings> = normalizeSettings(input);
    if (!this.#disposed) this.#step(() => this.#actor.send({ type: 'UPDATE', settings }));
  }

  /**
   * Runs `work`, which makes the actor take a step, then delivers the signals of that step. Listeners thus run while
   * the actor is idle: a call they make (`startTokenPolling()` from `requestFailed`) is handled at once, and its
   * signals follow the ones already waiting, in order.
   */
  #step<T>(work: () => T): T {
    this.#steps++;
    try {
      return work();
    } finally {
      this.#steps--;
      if (this.#steps === 0) this.#deliver();
    }
  }

  #enqueue(event: DeviceFlowEmitted): void {
    this.#undelivered.push(event);
    this.#committed.since++;
    // A step no method started (a response arrived): deliver once the actor is done with it.
    if (this.#steps === 0) this.#scheduleDelivery();
  }

  #scheduleDelivery(): void {
    if (this.#deliveryScheduled || this.#undelivered.length === 0) return;
    this.#deliveryScheduled = true;
    queueMicrotask(() => {
      this.#deliveryScheduled = false;
      this.#deliver();
    });
  }

  #deliver(): void {
    if (this.#delivering) return;
    this.#delivering = true;
    try {
      for (let event = this.#undelivered.shift(); event !== undefined; event = this.#undelivered.shift()) this.#forward(event);
    } finally {
      this.#delivering = false;
    }
  }

  #forward(event: DeviceFlowEmitted): void {
    const signals = this.#signals;
    switch (event.type) {
      case 'authorizeWithUserCode':
        return signals.emit('authorizeWithUserCode', new URL(event.verificationUrl), event.userCode, toUrl(event.completeVerificationUrl));
      case 'serverReportedErrorOccurred':
        return signals.emit('serverReportedErrorOccurred', event.error, event.errorDescription, toUrl(event.uri));
      case 'requestFailed':
        return signals.emit('requestFailed', event.error);
      case 'granted':
      case 'accessTokenAboutToExpire':
        return signals.emit(event.type);
      case 'transientError':
        return signals.emit('transientError', event.error, event.retryIn);
      default: {
        const name = event.type.slice(0, -'Changed'.length) as keyof FlowProperties;
        (this.#view as unknown as Record<string, unknown>)[name] = event.value;
        (signals.emit as (name: string, value: unknown) => void)(event.type, present(name, event.value));
      }
    }
  }
}

/** Each instance's transport options, found by the actor system its requests run in. */
const transports = new WeakMap<object, () => TransportOptions>();
let machineForInstances: DeviceAuthorizationMachine | undefined;

/** One machine for every instance: building a machine is costly, and the machine itself holds no instance's state. */
function sharedMachine(): DeviceAuthorizationMachine {
  machineForInstances ??= createDeviceAuthorizationMachine((system) => transports.get(system)!());
  return machineForInstances;
}

/** Builds the actor; a snapshot that does not fit the statechart is a `ClientError`, not a crash. */
function restorable<T>(build: () => T): T {
  try {
    return build();
  } catch (error) {
    throw unfitSnapshot(error);
  }
}

/**
 * `inspect`, with its exceptions reported as a listener's are: XState calls it in the middle of a step, where an
 * exception would stop the flow's actor.
 */
function guarded(inspect: Observer<InspectionEvent> | ((event: InspectionEvent) => void)): (event: InspectionEvent) => void {
  const next = typeof inspect === 'function' ? inspect : (event: InspectionEvent) => inspect.next?.(event);
  return (event) => {
    try {
      next(event);
    } catch (error) {
      reportLater(error);
    }
  };
}

/** What was thrown, by its kind only: its message may quote a secret the flow does not know (the cause keeps it, redacted). */
function thrownKind(error: unknown): string {
  return error instanceof Error && typeof error.name === 'string' && /^\w{1,64}$/.test(error.name) ? error.name : 'error';
}

function unfitSnapshot(cause: unknown): DeviceFlowError {
  return new DeviceFlowError('ClientError', `The snapshot does not fit this release's statechart: start a new flow with grant()`, {}, { cause });
}

/** A property value as the class shows it: URLs as `URL`, times as `Date`, lists and records as frozen copies. */
function present(name: keyof FlowProperties, value: unknown): unknown {
  if (URL_PROPERTIES.has(name)) return toUrl(value as string | null);
  if (TIME_PROPERTIES.has(name)) return value === null ? null : new Date(value as number);
  if (Array.isArray(value)) return Object.freeze([...value]);
  if (typeof value === 'object' && value !== null) return Object.freeze({ ...value });
  return value;
}

function toUrl(value: string | null): URL | null {
  if (value === null) return null;
  try {
    return new URL(value);
  } catch {
    return null;
  }
}
