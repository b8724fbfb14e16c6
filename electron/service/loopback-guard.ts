import { timingSafeEqual } from 'node:crypto';
import { ChronodiskError } from '../engine/errors.js';

/**
 * The browser UI's walls: it listens on loopback only, answers only requests whose Host
 * (and, from a browser, Origin) names this machine's loopback at its port — a page on
 * another site that rebinds its DNS name to 127.0.0.1 is refused — and its WebSocket
 * needs the token printed at start.
 */

const LOOPBACK_NAMES = new Set(['127.0.0.1', '::1', 'localhost']);

/** The address to listen on, refusing anything that is not loopback. */
export function loopbackHost(host: string): string {
  if (!LOOPBACK_NAMES.has(host)) {
    throw new ChronodiskError('usage', `--host ${host} is not a loopback address: the browser UI listens only on 127.0.0.1, ::1 or localhost, so nothing outside this machine can reach the service`);
  }
  return host;
}

/** How a browser names host:port in a URL ([::1] for IPv6). */
export function urlHost(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The Host values (and Origin hosts) that name this server: its loopback names at its port. */
function allowedHosts(port: number): Set<string> {
  return new Set(['127.0.0.1', 'localhost', '::1'].map((h) => urlHost(h, port)));
}

export function hostAllowed(hostHeader: string | undefined, port: number): boolean {
  return hostHeader !== undefined && allowedHosts(port).has(hostHeader.toLowerCase());
}

/** No Origin (not a browser) is allowed; a browser's must be this server's own http origin. */
export function originAllowed(origin: string | undefined, port: number): boolean {
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return url.protocol === 'http:' && allowedHosts(port).has(url.host.toLowerCase()) && url.pathname === '/' && !url.username;
}

/** Constant-time comparison, so the token cannot be guessed byte by byte from timings. */
export function tokenMatches(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
