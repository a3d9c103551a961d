/**
 * What runs behind `OAuth2DeviceAuthorizationFlow`: the flow's actor, started new or resumed, its signals delivered
 * after each step, replaced when an exception stops it, and stopped for good on `dispose()`.
 *
 * @module
 */

import type { Actor, InspectionEvent, Observer } from 'xstate';
import { DeviceFlowError } from '../core/errors.js';
import type { FlowSettingsInput, PropertyName, ShownProperties } from '../core/properties.js';
import { redactSecrets } from '../core/redact.js';
import type { TransportOptions } from '../http/actors.js';
import { sharedDeviceAuthorizationMachine, useTransport } from '../http/machine.js';
import type { DeviceAuthorizationMachine } from '../machines/deviceAuthorization.js';
import type { DeviceFlowSnapshot } from '../machines/snapshot.js';
import { restartFailedFlowActor, startFlowActor } from '../machines/startFlowActor.js';
import type { DeviceFlowEvent } from '../machines/types.js';
import { type Clock, steppingClock } from './clocks.js';
import { type DeviceFlowSignals, SignalDelivery } from './delivery.js';
import { reportLater, type SignalEmitter } from './signals.js';

/** How a {@link FlowRunner} starts. */
export interface FlowRunnerOptions {
  settings: FlowSettingsInput;
  snapshot?: DeviceFlowSnapshot | string | undefined;
  clock: Clock;
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void) | undefined;
  /** The options every request reads, afresh each time. */
  transport: () => TransportOptions;
}

/** Runs one flow's actor of the shared machine, and delivers what it emits to `signals`. */
export class FlowRunner {
  readonly #delivery: SignalDelivery;
  readonly #clock: Clock;
  readonly #inspect: ((event: InspectionEvent) => void) | undefined;
  readonly #transport: () => TransportOptions;
  #actor: Actor<DeviceAuthorizationMachine>;
  #stopped = false;

  /**
   * The observer of one actor: its methods on the prototype, not two closures per flow. Declared in the class so
   * that it may reach the runner's private members.
   */
  static readonly #Watch = class {
    constructor(
      readonly runner: FlowRunner,
      readonly actor: Actor<DeviceAuthorizationMachine>,
    ) {}

    next(snapshot: { context: object }): void {
      this.runner.#delivery.completed(snapshot.context);
    }

    error(error: unknown): void {
      this.runner.#recover(this.actor, error);
    }
  };

  constructor(signals: SignalEmitter<DeviceFlowSignals>, options: FlowRunnerOptions) {
    this.#delivery = new SignalDelivery(signals);
    this.#transport = options.transport;
    // Each timer fires a step of its own, after which its signals are delivered.
    this.#clock = steppingClock(options.clock, this.#delivery);
    this.#inspect = options.inspect === undefined ? undefined : guarded(options.inspect);
    this.#actor = this.#watch(startFlowActor(sharedDeviceAuthorizationMachine(), { ...this.#actorOptions(), settings: options.settings, snapshot: options.snapshot }));
    // The properties read as resumed at once; the signals of resuming reach the listeners added right after this.
    this.#delivery.begin(this.#actor.getSnapshot().context.properties);
  }

  /** The actor now running (a new one after an exception stopped the previous one). */
  get actor(): Actor<DeviceAuthorizationMachine> {
    return this.#actor;
  }

  /** Whether {@link stop} was called. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Property `name` as announced to the listeners so far, shown the class's way. */
  read<K extends PropertyName>(name: K): ShownProperties[K] {
    return this.#delivery.read(name);
  }

  /** Sends `event` as a step of its own; its signals are delivered before this returns. */
  send(event: DeviceFlowEvent): void {
    this.#delivery.step(() => this.#actor.send(event));
  }

  /** Stops the actor; nothing is delivered afterwards. */
  stop(): void {
    this.#stopped = true;
    this.#delivery.clear();
    this.#actor.stop();
  }

  /** How every actor of this flow runs, and what it is given before it starts. */
  #actorOptions() {
    return {
      clock: this.#clock,
      ...(this.#inspect === undefined ? {} : { inspect: this.#inspect }),
      prepare: (actor: Actor<DeviceAuthorizationMachine>) => {
        useTransport(actor, this.#transport);
        actor.on('*', (event) => this.#delivery.enqueue(event));
      },
    };
  }

  /** Follows `actor`'s steps, and replaces it when an exception stops it. */
  #watch(actor: Actor<DeviceAuthorizationMachine>): Actor<DeviceAuthorizationMachine> {
    this.#delivery.completed(actor.getSnapshot().context);
    actor.subscribe(new FlowRunner.#Watch(this, actor));
    return actor;
  }

  /**
   * Replaces `failed`, stopped by `error` in the middle of a step, with an actor restarted from its last completed step,
   * which ends what was in progress with `requestFailed`. Should even that fail, the flow ends as `stop()` ends it,
   * with the failure as its last signal.
   */
  #recover(failed: Actor<DeviceAuthorizationMachine>, error: unknown): void {
    if (this.#stopped || failed !== this.#actor) return;
    this.#delivery.forgetUnfinished(failed.getSnapshot().context);
    const failure = redactSecrets(
      new DeviceFlowError('ClientError', `The flow stopped after an unexpected ${thrownKind(error)} in its statechart`, {}, { cause: error }),
      [this.#transport().clientSecret ?? ''],
    );
    let restarted: Actor<DeviceAuthorizationMachine> | undefined;
    try {
      restarted = restartFailedFlowActor(failed, failure, this.#actorOptions());
    } catch {
      restarted = undefined;
    }
    if (restarted?.getSnapshot().status !== 'active') {
      this.stop();
      this.#delivery.deliverLast({ type: 'requestFailed', error: failure });
      return;
    }
    this.#actor = this.#watch(restarted);
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
