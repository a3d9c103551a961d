import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the server received. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  params: URLSearchParams;
}

/** What the server answers: a JSON value (object) or a raw string body, with a status and headers. */
export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  json?: unknown;
  body?: string;
}

type Handler = (request: RecordedRequest, response: ServerResponse) => Reply | 'handled' | Promise<Reply | 'handled'>;

/**
 * A handler that streams `bytes` of JSON-ish spaces with status 200, as fast as the client reads them, and `written`:
 * how many bytes had been written when the connection closed (less than `bytes` when the client hung up).
 */
export function hugeBody(bytes: number): { handler: Handler; written: Promise<number> } {
  let closed!: (written: number) => void;
  const written = new Promise<number>((resolve) => (closed = resolve));
  const handler: Handler = (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let total = 0;
    const pump = () => {
      while (total < bytes && !response.destroyed) {
        total += chunk.length;
        if (!response.write(chunk)) return void response.once('drain', pump);
      }
      response.end();
    };
    response.on('close', () => closed(total));
    pump();
    return 'handled';
  };
  return { handler, written };
}

/**
 * A scriptable HTTP server on 127.0.0.1: each path has a handler (or a queue of replies), every request is recorded,
 * and tests can wait for the next request to a path.
 */
export class LoopbackServer {
  readonly requests: RecordedRequest[] = [];
  readonly #handlers = new Map<string, Handler>();
  readonly #queues = new Map<string, Reply[]>();
  readonly #waiters: { path: string; resolve: (request: RecordedRequest) => void }[] = [];
  readonly #server = createServer((req, res) => void this.#handle(req, res));
  #origin = '';

  static async start(): Promise<LoopbackServer> {
    const server = new LoopbackServer();
    server.#server.listen(0, '127.0.0.1');
    await once(server.#server, 'listening');
    server.#origin = `http://127.0.0.1:${(server.#server.address() as AddressInfo).port}`;
    return server;
  }

  url(path: string): string {
    return `${this.#origin}${path}`;
  }

  /** Answers every request to `path` with `handler` (after any queued replies). */
  handle(path: string, handler: Handler | Reply): this {
    this.#handlers.set(path, typeof handler === 'function' ? handler : () => handler);
    return this;
  }

  /** Answers the next requests to `path` with these replies, in order. */
  queue(path: string, ...replies: Reply[]): this {
    this.#queues.set(path, [...(this.#queues.get(path) ?? []), ...replies]);
    return this;
  }

  /** The requests received for `path`. */
  requestsTo(path: string): RecordedRequest[] {
    return this.requests.filter((request) => request.path === path);
  }

  /** Resolves with the next request to `path` that arrives after this call. */
  nextRequest(path: string): Promise<RecordedRequest> {
    return new Promise((resolve) => this.#waiters.push({ path, resolve }));
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const path = new URL(req.url ?? '/', this.#origin).pathname;
    const request: RecordedRequest = { method: req.method ?? '', path, headers: req.headers, body, params: new URLSearchParams(body) };
    this.requests.push(request);
    const waiter = this.#waiters.findIndex((w) => w.path === path);
    if (waiter !== -1) this.#waiters.splice(waiter, 1)[0]!.resolve(request);

    const queued = this.#queues.get(path)?.shift();
    const handler = this.#handlers.get(path);
    const reply = queued ?? (handler ? await handler(request, res) : { status: 404, json: { error: 'not_found' } });
    if (reply === 'handled') return;
    const text = reply.body ?? (reply.json === undefined ? '' : JSON.stringify(reply.json));
    res.writeHead(reply.status ?? 200, { 'content-type': reply.json === undefined ? 'text/plain' : 'application/json', ...reply.headers });
    res.end(text);
  }
}
