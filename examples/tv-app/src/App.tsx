/**
 * A TV's sign-in screen: the user code in large type, a QR code of the complete verification URL, a countdown to the
 * code's expiry, then who signed in. The statechart runs in the component with `@xstate/react`.
 */
import { createBrowserInspector } from '@statelyai/inspect';
import { useActor, useSelector } from '@xstate/react';
import { useEffect, useState } from 'react';
import { createInspectorSanitizers, deviceAuthorizationMachine } from 'oauth2-device-flow';
import type { TvConfig } from './config.js';
import { QrCode } from './QrCode.js';

export function App({ config }: { config: TvConfig }) {
  const [inspect] = useState(() => (config.inspect ? createBrowserInspector({ ...createInspectorSanitizers() }).inspect : undefined));
  const [snapshot, send, flow] = useActor(deviceAuthorizationMachine, {
    input: {
      authorizationUrl: config.authorizationUrl,
      tokenUrl: config.tokenUrl,
      clientIdentifier: config.clientIdentifier,
      requestedScopeTokens: ['openid', 'profile'],
    },
    ...(inspect ? { inspect } : {}),
  });
  const properties = useSelector(flow, (state) => state.context.properties);
  const failure = useSelector(flow, (state) => state.context.lastError);

  // A TV asks for a code as soon as the sign-in screen opens.
  useEffect(() => {
    flow.send({ type: 'GRANT' });
  }, [flow]);

  if (snapshot.matches('granted')) {
    return (
      <main className="screen signed-in" data-state="signed-in">
        <h1>Signed in</h1>
        <p className="who">as {subjectOf(properties.idToken) ?? 'you'}</p>
      </main>
    );
  }
  if (snapshot.matches('awaitingUser') && properties.userCodeExpirationAt !== null) {
    const target = properties.completeVerificationUrl ?? properties.verificationUrl!;
    return (
      <main className="screen code" data-state="code">
        <section>
          <h1>Sign in on your phone or computer</h1>
          <p>
            Go to <span className="url" data-testid="verification-url">{properties.verificationUrl}</span> and enter
          </p>
          <p className="user-code" data-testid="user-code">{properties.userCode}</p>
          <Countdown until={properties.userCodeExpirationAt} />
        </section>
        <QrCode text={target} />
      </main>
    );
  }
  if (snapshot.matches('failed')) {
    return (
      <main className="screen failed" data-state="failed">
        <h1>{failure?.code === 'ExpiredError' ? 'The code expired' : 'Sign-in did not work'}</h1>
        <p>{failure?.message}</p>
        <button autoFocus onClick={() => send({ type: 'GRANT' })}>
          Get a new code
        </button>
      </main>
    );
  }
  return (
    <main className="screen waiting" data-state="waiting">
      <p className="message">Getting a code…</p>
    </main>
  );
}

function Countdown({ until }: { until: number }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const seconds = Math.max(0, Math.ceil((until - now) / 1000));
  return (
    <p className="countdown" data-testid="countdown">
      The code expires in {Math.floor(seconds / 60)}:{String(seconds % 60).padStart(2, '0')}
    </p>
  );
}

/** The `sub` claim of an ID token, shown, not trusted: validating it is the backend's job. */
function subjectOf(idToken: string): string | null {
  try {
    const payload = idToken.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/');
    return (JSON.parse(atob(payload)) as { sub?: string }).sub ?? null;
  } catch {
    return null;
  }
}
