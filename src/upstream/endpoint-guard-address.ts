/**
 * What an IP address is, for the endpoint guard: whether it lies in a range a connector may not
 * reach while `connector.private_ip_enabled` is false, and the texts `restricted_ip_patterns`
 * are matched against. Pure functions over address text; no DNS here.
 */
import { isIP } from 'node:net';

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

/** The IPv4 address an IPv6 address stands for (mapped, translated, NAT64, 6to4), if any. */
function embeddedIpv4(bytes: Uint8Array): Uint8Array | undefined {
  const zeros = (from: number, to: number): boolean =>
    bytes.subarray(from, to).every((byte) => byte === 0);
  const mapped = zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff; // ::ffff:a.b.c.d
  const translated = zeros(0, 8) && bytes[8] === 0xff && bytes[9] === 0xff && zeros(10, 12);
  const nat64 = inRange(bytes, [[0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], 96]);
  if (mapped || translated || nat64) return bytes.subarray(12, 16);
  if (inRange(bytes, [[0x20, 0x02], 16])) return bytes.subarray(2, 6); // 6to4
  return undefined;
}

function isDisallowedIpv4(bytes: Uint8Array): boolean {
  return disallowedIpv4.some((range) => inRange(bytes, range));
}

function isDisallowedIpv6(bytes: Uint8Array): boolean {
  const embedded = embeddedIpv4(bytes);
  if (embedded !== undefined) return isDisallowedIpv4(embedded);
  return disallowedIpv6.some((range) => inRange(bytes, range));
}

function withoutBrackets(ip: string): string {
  return ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
}

/**
 * Whether a connector may not connect to this address while `private_ip_enabled` is false.
 * Anything that is not an IP address counts as disallowed, so a bad input fails closed.
 */
export function isDisallowedAddress(ip: string): boolean {
  const withoutZone = withoutBrackets(ip).split('%')[0] ?? '';
  const version = isIP(withoutZone);
  if (version === 4) return isDisallowedIpv4(parseIpv4(withoutZone));
  if (version === 6) return isDisallowedIpv6(parseIpv6(withoutZone));
  return true;
}

/**
 * The texts of one address that `restricted_ip_patterns` are matched against; the address is
 * restricted when a pattern matches any of them. ml-commons matches Java's
 * `InetAddress.getHostAddress()`: dotted IPv4, and IPv6 as eight uncompressed hex groups
 * (`0:0:0:0:0:0:0:1`), except that Java turns `::ffff:a.b.c.d` into the IPv4 address. Operators
 * also write the compressed form (`::1`), and a deny-list that misses a spelling of an address
 * fails open, so every usual spelling is offered, plus the IPv4 address inside NAT64, translated
 * and 6to4 addresses (Java leaves those as IPv6 and would not match `169\.254\..*` on them).
 */
export function addressTexts(ip: string): string[] {
  const address = withoutBrackets(ip).split('%')[0] ?? '';
  const version = isIP(address);
  // A connect to an unspecified address (0.0.0.0/8, ::) reaches this host's loopback on Linux,
  // so a pattern written against loopback must catch it too.
  if (version === 4) return address.startsWith('0.') ? [address, '127.0.0.1'] : [address];
  if (version !== 6) return [ip];
  const bytes = parseIpv6(address);
  const groups: string[] = [];
  for (let index = 0; index < 16; index += 2) {
    groups.push((((bytes[index] ?? 0) << 8) | (bytes[index + 1] ?? 0)).toString(16));
  }
  // WHATWG serialises IPv6 hosts in RFC 5952's compressed, lower-case form.
  const compressed = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const texts = new Set([address.toLowerCase(), groups.join(':'), compressed]);
  const embedded = embeddedIpv4(bytes);
  if (embedded !== undefined) texts.add(embedded.join('.'));
  if (bytes.every((byte) => byte === 0)) {
    texts.add('::1');
    texts.add('0:0:0:0:0:0:0:1');
  }
  return [...texts];
}
