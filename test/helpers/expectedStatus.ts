import type { AnyMachineSnapshot } from 'xstate';
import type { FlowStatus } from '../../src/core/properties.js';

/**
 * The status each state of the chart stands for, written down here independently of the chart: where the context's
 * `status` must say the same.
 */
const STATUS_OF: [state: string, status: FlowStatus][] = [
  ['idle', 'NotAuthenticated'],
  ['authorizing', 'NotAuthenticated'],
  ['awaitingUser', 'TemporaryCredentialsReceived'],
  // The user approved, but the tokens are not the flow's until their ID token is valid.
  ['verifyingIdToken', 'TemporaryCredentialsReceived'],
  ['granted', 'Granted'],
  ['refreshing', 'RefreshingToken'],
  // Signing out: whatever was in progress was abandoned, and the tokens are on their way out.
  ['revoking', 'NotAuthenticated'],
  ['failed.authorization', 'NotAuthenticated'],
  ['failed.polling', 'TemporaryCredentialsReceived'],
  ['failed.refresh', 'NotAuthenticated'],
];

/** The status `snapshot`'s state stands for. */
export function statusOfState(snapshot: AnyMachineSnapshot): FlowStatus {
  const found = STATUS_OF.find(([state]) => snapshot.matches(stateValue(state) as never));
  if (found === undefined) throw new Error(`No status for ${JSON.stringify(snapshot.value)}`);
  return found[1];
}

/** Whether `snapshot`'s state is one where polling runs: waiting for a poll, or sending one. */
export function pollingInState(snapshot: AnyMachineSnapshot): boolean {
  return ['waiting', 'requesting'].some((poller) => snapshot.matches({ awaitingUser: { poller } } as never));
}

function stateValue(path: string): unknown {
  const [first, second] = path.split('.');
  return second === undefined ? first : { [first!]: second };
}
