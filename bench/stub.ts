/**
 * The stub authorization server of the fleet benchmark, run in a process of its own (on its own core): it hands out
 * device codes and answers every poll with `authorization_pending`, recording when each flow's polls arrive.
 *
 * Messages from the parent: `{ type: 'reset' }` starts a measurement window; `{ type: 'report' }` answers with the
 * polls counted, the gaps between a flow's polls, and the polls that arrived in each 10 ms since the last reset.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const interval = Number(process.env.BENCH_INTERVAL ?? 5);
const deviceBody = (deviceCode: string) =>
  JSON.stringify({ device_code: deviceCode, user_code: 'ABCD-EFGH', verification_uri: 'https://example.com/device', expires_in: 3600, interval });
const pendingBody = JSON.stringify({ error: 'authorization_pending' });

let issued = 0;
let polls = 0;
/** Polls that carried a DPoP proof (RFC 9449): the DPoP variant's, all of them. */
let proofs = 0;
let gaps: number[] = [];
/** Polls per 10 ms slot since the reset: an even spread has the same count in every slot; herding flows leave gaps. */
let slots = new Map<number, number>();
const SLOT_MS = 10;
const lastPoll = new Map<string, number>();

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const now = performance.timeOrigin + performance.now();
    if (request.url === '/device') {
      const body = deviceBody(`device-${++issued}`);
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      return response.end(body);
    }
    const deviceCode = new URLSearchParams(Buffer.concat(chunks).toString()).get('device_code') ?? '';
    const previous = lastPoll.get(deviceCode);
    if (previous !== undefined) gaps.push(now - previous);
    lastPoll.set(deviceCode, now);
    polls++;
    if (request.headers.dpop !== undefined) proofs++;
    const slot = Math.floor(now / SLOT_MS);
    slots.set(slot, (slots.get(slot) ?? 0) + 1);
    response.writeHead(400, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(pendingBody) });
    response.end(pendingBody);
  });
});
server.keepAliveTimeout = 60_000;

server.listen(0, '127.0.0.1', () => process.send!({ type: 'listening', port: (server.address() as AddressInfo).port }));

process.on('message', (message: { type: string }) => {
  if (message.type === 'reset') {
    polls = 0;
    proofs = 0;
    gaps = [];
    slots = new Map();
  } else if (message.type === 'report') {
    process.send!({ type: 'report', polls, proofs, gaps, slots: slotCounts(), cpu: process.cpuUsage() });
  } else if (message.type === 'stop') {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  }
});

/** The number of polls in every 10 ms slot from the first poll of the window to the last, empty slots included. */
function slotCounts(): number[] {
  if (slots.size === 0) return [];
  const keys = [...slots.keys()];
  const first = Math.min(...keys);
  return Array.from({ length: Math.max(...keys) - first + 1 }, (_, index) => slots.get(first + index) ?? 0);
}
