import { type ConfigProblem, PARAMETERS } from './config.js';

/** Placeholder values for the example address: a provider's endpoints and a client ID registered there. */
const EXAMPLE: Record<(typeof PARAMETERS)[number], string> = {
  authorizationUrl: 'https://auth.example.com/device',
  tokenUrl: 'https://auth.example.com/token',
  clientId: 'my-tv-app',
};

/**
 * What the page shows when its address does not say where to sign in: which parameters are missing or invalid, an
 * example address, and how to get a local server. It starts no flow: nothing here talks to any server.
 */
export function NeedsServer({ problems, page }: { problems: readonly ConfigProblem[]; page: string }) {
  return (
    <main className="screen needs-server" data-state="needs-server">
      <h1>This TV sign-in page needs an authorization server</h1>
      <p>It is an example of the oauth2-device-flow package, and signs in where its address tells it to.</p>
      <p className="heading">Fix this in the address:</p>
      <ul className="problems" data-testid="problems">
        {problems.map(({ parameter, value, problem }) => (
          <li key={parameter} data-parameter={parameter}>
            <code className="parameter">{parameter}</code>
            <span className="problem">
              {value !== undefined && <code className="value">{value}</code>} {problem}
            </span>
          </li>
        ))}
      </ul>
      <p className="heading">For example:</p>
      {/* One parameter a line: a full address would wrap mid-word at this size. */}
      <pre className="example" data-testid="example-url">
        {PARAMETERS.map((parameter, index) => `${index === 0 ? `${page}?` : '  &'}${parameter}=${EXAMPLE[parameter]}`).join('\n')}
      </pre>
      <p className="hint">
        For a local server with all of this filled in, run <code>npm run build</code> and <code>node examples/tv-app/serve.mjs</code> in the
        repository, then open the address it prints.
      </p>
    </main>
  );
}
