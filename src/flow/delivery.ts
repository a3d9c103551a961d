/**
 * How the statechart's emitted events reach the class's listeners: queued while the actor takes a step, delivered in
 * order once the step is over, as signals whose values are shown the class's way (`URL`, `Date`, frozen copies).
 * Inside a listener the properties read as they did when that signal was emitted, as in Qt.
 *
 * @module
 */

import type { DeviceFlowError } from '../core/errors.js';
import { type FlowProperties, type PropertyName, type ShownProperties, showProperty } from '../core/properties.js';
import type { DeviceFlowEmitted } from '../machines/types.js';
import type { SignalEmitter } from './signals.js';

/**
 * The signals of `OAuth2DeviceAuthorizationFlow` and the arguments their listeners get: Qt's signals, with URLs as
 * `URL` objects and times as `Date`s, and a `…Changed` signal for every property, which fires only when the value
 * changes.
 *
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 * @see [RFC 8628 §3.3](https://www.rfc-editor.org/rfc/rfc8628#section-3.3) for `authorizeWithUserCode`
 */
export type DeviceFlowSignals = {
  /** The user must visit `verificationUrl` and enter `userCode` (or open `completeVerificationUrl`). */
  authorizeWithUserCode: [verificationUrl: URL, userCode: string, completeVerificationUrl: URL | null];
  /** Tokens were received, by the grant or by a refresh. */
  granted: [];
  /** A request failed, or a call was refused. */
  requestFailed: [error: DeviceFlowError];
  /** The server answered with an OAuth error; `requestFailed` follows. */
  serverReportedErrorOccurred: [error: string, errorDescription: string, uri: URL | null];
  /** The access token expires soon; with `autoRefresh` a refresh starts. */
  accessTokenAboutToExpire: [];
  /**
   * A poll hit a transport fault (connection refused or reset, timeout, a 429 or 5xx without an OAuth error); polling
   * goes on after `retryIn` milliseconds (RFC 8628 §3.5 back-off).
   */
  transientError: [error: DeviceFlowError, retryIn: number];
  /**
   * `revokeTokens()` is over: the tokens are forgotten; `error` says why the server may still consider them valid
   * (it refused, could not be reached, or no revocation URL is set), `null` when it revoked them (RFC 7009 §2.2).
   */
  revoked: [error: DeviceFlowError | null];
  /** The token store could not save the flow (see `tokenStore`); the flow goes on, and the next change saves again. */
  saveFailed: [error: DeviceFlowError];
} & { [K in PropertyName as `${K}Changed`]: [value: ShownProperties[K]] };

/**
 * The name of a signal of `OAuth2DeviceAuthorizationFlow`.
 *
 * @see [Qt's QOAuth2DeviceAuthorizationFlow](https://doc.qt.io/qt-6/qoauth2deviceauthorizationflow.html)
 */
export type DeviceFlowSignalName = keyof DeviceFlowSignals;

/**
 * Delivers a flow's emitted events to `signals`. Events reach it through {@link enqueue}; steps the class starts run
 * through {@link step}, and their events are delivered when the outermost step returns. An event that arrives outside
 * a step (a response settled a request) is delivered on a microtask, once the actor has finished with it. Delivery is
 * in order, also when a listener calls back into the flow: the signals its call causes follow the ones waiting.
 */
export class SignalDelivery {
  readonly #signals: SignalEmitter<DeviceFlowSignals>;
  /** The properties as announced so far. */
  #view = {} as FlowProperties;
  readonly #waiting: DeviceFlowEmitted[] = [];
  #depth = 0;
  #delivering = false;
  #scheduled = false;
  /** The context of the actor's last completed step, and how many events were queued since. */
  readonly #completed: { context: object | null; since: number } = { context: null, since: 0 };

  constructor(signals: SignalEmitter<DeviceFlowSignals>) {
    this.#signals = signals;
  }

  /** Takes `properties` as announced: what the properties read before the first signal. */
  begin(properties: FlowProperties): void {
    this.#view = { ...properties };
  }

  /** Property `name` as announced so far, shown the class's way. */
  read<K extends PropertyName>(name: K): ShownProperties[K] {
    return showProperty(name, this.#view[name]);
  }

  /** Queues an event the actor emitted. */
  enqueue(event: DeviceFlowEmitted): void {
    this.#waiting.push(event);
    this.#completed.since++;
    if (this.#depth === 0) this.#schedule();
  }

  /** Runs `work`, which makes the actor take a step, then delivers what the step emitted. */
  step<T>(work: () => T): T {
    this.#depth++;
    try {
      return work();
    } finally {
      this.#depth--;
      if (this.#depth === 0) this.#deliver();
    }
  }

  /** Notes that the actor completed a step, leaving `context`. */
  completed(context: object): void {
    // In place: this runs after every step.
    this.#completed.context = context;
    this.#completed.since = 0;
  }

  /**
   * Forgets the events of a step that stopped half-way, leaving `context` as it was: its changes never happened. The
   * events of a step that completed (whose effects failed afterwards) stand.
   */
  forgetUnfinished(context: object): void {
    if (context === this.#completed.context) this.#waiting.splice(this.#waiting.length - this.#completed.since);
  }

  /** Delivers `event` after the ones waiting, as if the actor had emitted it. */
  deliverLast(event: DeviceFlowEmitted): void {
    this.#waiting.push(event);
    this.#deliver();
  }

  /** Drops everything waiting; nothing is delivered afterwards unless queued anew. */
  clear(): void {
    this.#waiting.length = 0;
  }

  /** Delivers what is waiting on a microtask: events that arrived outside any step. */
  #schedule(): void {
    if (this.#scheduled || this.#waiting.length === 0) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#deliver();
    });
  }

  /** Delivers what is waiting, in order; a delivery already under way (a listener called back in) delivers the rest. */
  #deliver(): void {
    if (this.#delivering) return;
    this.#delivering = true;
    try {
      for (let event = this.#waiting.shift(); event !== undefined; event = this.#waiting.shift()) this.#signal(event);
    } finally {
      this.#delivering = false;
    }
  }

  #signal(event: DeviceFlowEmitted): void {
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
      case 'revoked':
        return signals.emit('revoked', event.error);
      default: {
        const name = event.type.slice(0, -'Changed'.length) as PropertyName;
        (this.#view as Record<PropertyName, unknown>)[name] = event.value;
        (signals.emit as (name: string, value: unknown) => void)(event.type, this.read(name));
      }
    }
  }
}

// A server's URI that does not parse is shown as none.
function toUrl(value: string | null): URL | null {
  if (value === null) return null;
  try {
    return new URL(value);
  } catch {
    return null;
  }
}
