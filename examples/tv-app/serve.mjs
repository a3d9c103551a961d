// Runs the TV app against the local authorization server of `npm start`: `npm run build`, then
// `node examples/tv-app/serve.mjs`, and open the printed URL. Sign in from another tab or a phone on this machine.
import { existsSync } from 'node:fs';
import { createServer } from 'vite';

// Both the server and the page's `oauth2-device-flow` import come from dist/: say so instead of a module-not-found trace.
if (!existsSync(new URL('../../dist/devServer/index.js', import.meta.url))) {
  console.error('The package is not built: run `npm run build` in the repository first.');
  process.exit(1);
}
const { startDevServer } = await import('oauth2-device-flow/dev-server');

const port = Number(process.env.PORT ?? 5173);
const origin = `http://127.0.0.1:${port}`;
// The server answers the page's requests from this origin only (CORS), as a real provider would be configured to.
const server = await startDevServer({ corsOrigins: [origin] });
const vite = await createServer({ configFile: new URL('./vite.config.ts', import.meta.url).pathname, server: { host: '127.0.0.1', port, strictPort: true } });
await vite.listen();
const query = new URLSearchParams({ authorizationUrl: server.deviceAuthorizationUrl, tokenUrl: server.tokenUrl, clientId: server.clients.public.clientIdentifier });
console.log(`TV app: ${origin}/?${query}`);
console.log(`Add &inspect to watch the flow in the Stately inspector. Any user name and password will do at ${server.issuer}.`);
process.once('SIGINT', async () => {
  await vite.close();
  await server.close();
  process.exit(0);
});
