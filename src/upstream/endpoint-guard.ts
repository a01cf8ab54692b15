/**
 * SSRF protection for connector URLs: the `trusted_connector_endpoints_regex` allow-list and the
 * `connector.private_ip_enabled` private-address guard (ml-commons-reference.md §8.1).
 *
 * The address guard has two halves. `checkEndpointAddress` resolves the host up front so that
 * connector creation can answer with a clear 400. `createGuardedLookup` is handed to the socket
 * itself, so the address that is checked is the address that is connected to: a second DNS answer
 * (DNS rebinding) cannot slip a private address in between the check and the connect.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { lookup as dnsLookupAsync } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import { badRequest, ErrorCode, ServiceError } from '../domain/errors.ts';
import { redactUrl } from './upstream-error.ts';

/** Thrown from the guarded lookup; `client.ts` turns it into the ml-commons 400. */
export class PrivateAddressError extends Error {
  readonly code = 'SLUICE_PRIVATE_ADDRESS';
  readonly host: string;

  constructor(host: string) {
    super(privateAddressMessage(host));
    this.name = 'PrivateAddressError';
    this.host = host;
  }
}

export function privateAddressMessage(host: string): string {
  return `Remote inference host name has private ip address: ${host}`;
}

// Compiled patterns are cached because the check runs on every call; the setting holds a handful
// of patterns, so the cache is only cleared if someone feeds it an unusual number of them.
const compiledPatterns = new Map<string, RegExp | null>();

function compile(pattern: string): RegExp | null {
  let compiled = compiledPatterns.get(pattern);
  if (compiled !== undefined) return compiled;
  try {
    // Java's Matcher.matches() must consume the whole input; anchoring a group reproduces that.
    compiled = new RegExp(`^(?:${pattern})$`);
  } catch {
    // A pattern JavaScript cannot compile matches nothing: the allow-list fails closed.
    compiled = null;
  }
  if (compiledPatterns.size >= 256) compiledPatterns.clear();
  compiledPatterns.set(pattern, compiled);
  return compiled;
}

/** Parses a connector URL, refusing anything that is not plain http(s). */
export function parseEndpointUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badRequest('Connector URL is not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw badRequest(`Protocol is not http or https: ${parsed.protocol.slice(0, -1)}`);
  }
  return parsed;
}

/**
 * The URL must match at least one pattern of `trusted_connector_endpoints_regex` as a whole
 * string, like ml-commons. The message leaves out the query string and user info: some providers
 * take API keys there, and error messages reach clients and logs.
 */
export function checkTrustedEndpoint(url: string, trustedRegex: string[]): void {
  const parsed = parseEndpointUrl(url);
  const trusted = trustedRegex.some((pattern) => compile(pattern)?.test(url) === true);
  if (!trusted) {
    throw badRequest(
      `Connector URL is not matching the trusted connector endpoint regex, URL is: ${redactUrl(url)}`,
    );
  }
  // `https://trusted.example@evil.example/` can satisfy a loose pattern while connecting to the
  // host after the `@`; nothing legitimate needs credentials in the URL, so refuse it outright.
  if (parsed.username !== '' || parsed.password !== '') {
    throw badRequest('Connector URL must not contain user info');
  }
}

/** The host of a parsed URL without the brackets WHATWG keeps around IPv6 literals. */
export function urlHost(parsed: URL): string {
  const host = parsed.hostname;
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * Refuses IP literals in the URL that point inside the network. Sockets skip DNS for literals,
 * so the guarded lookup never sees them: this check is their only gate, and it runs on every call.
 */
export function checkAddressLiteral(parsed: URL, privateIpEnabled: boolean): void {
  if (privateIpEnabled) return;
  const host = urlHost(parsed);
  if (isIP(host) !== 0 && isDisallowedAddress(host)) {
    throw badRequest(privateAddressMessage(host));
  }
}

/**
 * Resolves the URL's host and refuses it when any address is private (connector-create time).
 * Calls are guarded again at connect time by the lookup of the agent.
 *
 * With `allowUnresolved`, a host that does not resolve (yet, or not from this node) is let
 * through: a connector may be written before its endpoint is reachable, and the connect-time
 * guard still judges every address actually used.
 */
export async function checkEndpointAddress(
  url: string,
  privateIpEnabled: boolean,
  options: { allowUnresolved?: boolean } = {},
): Promise<void> {
  const parsed = parseEndpointUrl(url);
  if (privateIpEnabled) return;
  checkAddressLiteral(parsed, privateIpEnabled);
  const host = urlHost(parsed);
  if (isIP(host) !== 0) return;
  let addresses: LookupAddress[];
  try {
    addresses = await dnsLookupAsync(host, { all: true, verbatim: true });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (options.allowUnresolved === true) return;
    if (code === 'ENOTFOUND' || code === 'ENODATA') {
      throw badRequest(`Remote inference host name cannot be resolved: ${host}`);
    }
    throw new ServiceError(
      ErrorCode.UpstreamUnavailable,
      'Connection to remote service failed: DNS lookup failed',
      { retryable: true, cause: error },
    );
  }
  if (addresses.length === 0 || addresses.some((entry) => isDisallowedAddress(entry.address))) {
    throw badRequest(privateAddressMessage(host));
  }
}

/**
 * A `lookup` for `net.connect`/`tls.connect` that resolves every address of the host and fails
 * the connect when any of them is disallowed (a host with one public and one private address is
 * refused: the socket may pick either). It answers in whichever shape the caller asked for, since
 * Node's happy-eyeballs connect asks for `all: true` and the plain path does not.
 */
export function createGuardedLookup(): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error !== null) {
        callback(error, options.all === true ? [] : '', 0);
        return;
      }
      const first = addresses[0];
      if (first === undefined || addresses.some((entry) => isDisallowedAddress(entry.address))) {
        const refusal = new PrivateAddressError(hostname) as NodeJS.ErrnoException;
        callback(refusal, options.all === true ? [] : '', 0);
        return;
      }
      if (options.all === true) callback(null, addresses);
      else callback(null, first.address, first.family);
    });
  };
}

type Range = readonly [prefix: readonly number[], bits: number];

// IANA special-purpose IPv4 registry entries that must never be reached from a connector:
// "this network", private, CGNAT, loopback, link-local (cloud metadata lives at 169.254.169.254),
// protocol assignments, documentation, 6to4 relay, benchmarking, multicast, reserved, broadcast.
const disallowedIpv4: readonly Range[] = [
  [[0, 0, 0, 0], 8],
  [[10, 0, 0, 0], 8],
  [[100, 64, 0, 0], 10],
  [[127, 0, 0, 0], 8],
  [[169, 254, 0, 0], 16],
  [[172, 16, 0, 0], 12],
  [[192, 0, 0, 0], 24],
  [[192, 0, 2, 0], 24],
  [[192, 88, 99, 0], 24],
  [[192, 168, 0, 0], 16],
  [[198, 18, 0, 0], 15],
  [[198, 51, 100, 0], 24],
  [[203, 0, 113, 0], 24],
  [[224, 0, 0, 0], 4],
  [[240, 0, 0, 0], 4],
];

// IPv6 ranges refused outright. Ranges that embed an IPv4 address (mapped, translated, NAT64
// well-known prefix, 6to4) are not listed: they are judged by the embedded address instead.
const disallowedIpv6: readonly Range[] = [
  [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 96], // ::, ::1 and deprecated IPv4-compatible
  [[0x00, 0x64, 0xff, 0x9b, 0x00, 0x01], 48], // local-use NAT64 (64:ff9b:1::/48)
  [[0x01, 0x00, 0, 0, 0, 0, 0, 0], 64], // discard-only (100::/64)
  [[0x20, 0x01, 0x00, 0x00], 32], // Teredo (tunnels to an arbitrary IPv4 host)
  [[0x20, 0x01, 0x00, 0x02, 0x00, 0x00], 48], // benchmarking
  [[0x20, 0x01, 0x00, 0x10], 28], // ORCHID
  [[0x20, 0x01, 0x00, 0x20], 28], // ORCHIDv2
  [[0x20, 0x01, 0x0d, 0xb8], 32], // documentation
  [[0x3f, 0xff], 20], // documentation
  [[0xfc], 7], // unique local
  [[0xfe, 0x80], 10], // link-local
  [[0xfe, 0xc0], 10], // deprecated site-local
  [[0xff], 8], // multicast
];

function inRange(bytes: Uint8Array, [prefix, bits]: Range): boolean {
  for (let index = 0; index * 8 < bits; index += 1) {
    const remaining = bits - index * 8;
    const mask = remaining >= 8 ? 0xff : (0xff << (8 - remaining)) & 0xff;
    if (((bytes[index] ?? 0) & mask) !== ((prefix[index] ?? 0) & mask)) return false;
  }
  return true;
}

function parseIpv4(text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map(Number));
}

/** Expands an IPv6 text form (compressed, with a dotted IPv4 tail, with a zone) to 16 bytes. */
function parseIpv6(text: string): Uint8Array {
  let address = text;
  const zone = address.indexOf('%');
  if (zone !== -1) address = address.slice(0, zone);
  const groups: number[] = [];
  const parseGroups = (part: string): number[] => {
    if (part === '') return [];
    const result: number[] = [];
    for (const group of part.split(':')) {
      if (group.includes('.')) {
        const [a = 0, b = 0, c = 0, d = 0] = parseIpv4(group);
        result.push((a << 8) | b, (c << 8) | d);
      } else {
        result.push(Number.parseInt(group, 16));
      }
    }
    return result;
  };
  const gap = address.indexOf('::');
  if (gap === -1) {
    groups.push(...parseGroups(address));
  } else {
    const head = parseGroups(address.slice(0, gap));
    const tail = parseGroups(address.slice(gap + 2));
    groups.push(...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail);
  }
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    bytes[index * 2] = group >> 8;
    bytes[index * 2 + 1] = group & 0xff;
  });
  return bytes;
}

function isDisallowedIpv4(bytes: Uint8Array): boolean {
  return disallowedIpv4.some((range) => inRange(bytes, range));
}

function isDisallowedIpv6(bytes: Uint8Array): boolean {
  const zeros = (from: number, to: number): boolean =>
    bytes.subarray(from, to).every((byte) => byte === 0);
  const mapped = zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff; // ::ffff:a.b.c.d
  const translated = zeros(0, 8) && bytes[8] === 0xff && bytes[9] === 0xff && zeros(10, 12);
  const nat64 = inRange(bytes, [[0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], 96]);
  if (mapped || translated || nat64) return isDisallowedIpv4(bytes.subarray(12, 16));
  if (inRange(bytes, [[0x20, 0x02], 16])) return isDisallowedIpv4(bytes.subarray(2, 6)); // 6to4
  return disallowedIpv6.some((range) => inRange(bytes, range));
}

/**
 * Whether a connector may not connect to this address while `private_ip_enabled` is false.
 * Anything that is not an IP address counts as disallowed, so a bad input fails closed.
 */
export function isDisallowedAddress(ip: string): boolean {
  const address = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const withoutZone = address.split('%')[0] ?? '';
  const version = isIP(withoutZone);
  if (version === 4) return isDisallowedIpv4(parseIpv4(withoutZone));
  if (version === 6) return isDisallowedIpv6(parseIpv6(withoutZone));
  return true;
}
