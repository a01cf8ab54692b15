/**
 * SSRF protection for connector URLs (ml-commons-reference.md §8.1): the
 * `trusted_connector_endpoints_regex` allow-list, and the address guard built from
 * `connector.private_ip_enabled`, `trusted_connector_private_endpoints_regex` and
 * `connector.restricted_ip_patterns`, with ml-commons' rules (MLValidatableAsyncHttpClient):
 * an address matching a restricted pattern is refused whatever else is set; a private address is
 * refused while private_ip_enabled is false; and with it true, a non-empty private-endpoint list
 * lets private addresses through only for URLs that match one of its patterns.
 *
 * The address guard has two halves. `checkEndpointAddress` resolves the host up front so that
 * connector creation can answer with a clear 400. `createGuardedLookup` is handed to the socket
 * itself, so the address that is checked is the address that is connected to: a second DNS answer
 * (DNS rebinding) cannot slip a refused address in between the check and the connect.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { badRequest, ErrorCode, ServiceError } from '../domain/errors.ts';
import { addressTexts, isDisallowedAddress } from './endpoint-guard-address.ts';
import { redactUrl } from './upstream-error.ts';

export { isDisallowedAddress } from './endpoint-guard-address.ts';

/** The settings the address guard reads; `EffectiveSettings` has them all. */
export interface AddressPolicy {
  privateIpEnabled: boolean;
  trustedPrivateEndpointsRegex: readonly string[];
  restrictedIpPatterns: readonly string[];
}

/** Everything that decides which connector URLs may be called. */
export interface EndpointPolicy extends AddressPolicy {
  trustedEndpointsRegex: string[];
}

/** Why private addresses are refused for a URL; each reason has its own ml-commons message. */
export type PrivateRefusal = 'private_ip_disabled' | 'untrusted_private_endpoint';

/** What the address guard enforces for one URL (see `addressRules`). */
export interface AddressRules {
  /** `undefined` when this URL may reach private addresses. */
  privateRefusal: PrivateRefusal | undefined;
  restrictedIpPatterns: readonly string[];
}

/** No address refused: for origins served by this process itself. */
export const openAddressRules: AddressRules = {
  privateRefusal: undefined,
  restrictedIpPatterns: [],
};

/**
 * Resolves a host name to every address, like `dns.lookup` with `all: true`. A parameter so that
 * tests can answer as a rebinding DNS server would.
 */
export type HostResolver = (
  hostname: string,
  options: LookupOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

const systemResolver: HostResolver = (hostname, options, callback) =>
  dnsLookup(hostname, { ...options, all: true }, callback);

/**
 * Thrown from the guarded lookup; `client.ts` turns it into the ml-commons 400. The code keeps
 * its historical name: a restricted address is refused through the same path as a private one.
 */
export class RefusedAddressError extends Error {
  readonly code = 'SLUICE_PRIVATE_ADDRESS';

  constructor(message: string) {
    super(message);
    this.name = 'RefusedAddressError';
  }
}

export function privateAddressMessage(host: string): string {
  return `Remote inference host name has private ip address: ${host}`;
}

export function restrictedAddressMessage(host: string): string {
  return `Remote inference host name has restricted ip address: ${host}`;
}

// ml-commons names no host in this one.
export const untrustedPrivateEndpointMessage =
  'Connector URL is not matching the trusted connector private endpoint regex';

// Compiled patterns are cached because the check runs on every call; the settings hold a handful
// of patterns, so the cache is only cleared if someone feeds it an unusual number of them.
const compiledPatterns = new Map<string, RegExp | null>();

/** `null` for a pattern JavaScript cannot compile; each caller decides how that fails closed. */
function compile(pattern: string): RegExp | null {
  let compiled = compiledPatterns.get(pattern);
  if (compiled !== undefined) return compiled;
  try {
    // Java's Matcher.matches() must consume the whole input; anchoring a group reproduces that.
    compiled = new RegExp(`^(?:${pattern})$`);
  } catch {
    compiled = null;
  }
  if (compiledPatterns.size >= 256) compiledPatterns.clear();
  compiledPatterns.set(pattern, compiled);
  return compiled;
}

/** Whether any pattern matches the whole text; a pattern that does not compile matches nothing. */
function matchesAny(text: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => compile(pattern)?.test(text) === true);
}

/** Longer connector URLs are refused before any pattern is matched against them. */
export const maxUrlLength = 8192;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds.
const controlCharacter = /[\u0000-\u001f\u007f]/;

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
export function checkTrustedEndpoint(url: string, trustedRegex: readonly string[]): void {
  // Before any pattern runs: a URL may carry request parameters, and even a harmless-looking
  // pattern (`^https://.*\.example\.com/.*$`) takes quadratic time on a long enough one.
  if (url.length > maxUrlLength) {
    throw badRequest(`Connector URL is longer than ${maxUrlLength} characters`);
  }
  if (controlCharacter.test(url)) throw badRequest('Connector URL contains control characters');
  const parsed = parseEndpointUrl(url);
  if (!matchesAny(url, trustedRegex)) {
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

/**
 * The address rules for one URL. The private-endpoint patterns are matched against the whole URL,
 * as ml-commons does, and only matter while private_ip_enabled is true: with it false, a private
 * address is refused even for a URL they match. An empty list lets every URL reach private
 * addresses (the ml-commons default); a list whose patterns do not compile lets none.
 */
export function addressRules(url: string, policy: AddressPolicy): AddressRules {
  let privateRefusal: PrivateRefusal | undefined;
  if (!policy.privateIpEnabled) {
    privateRefusal = 'private_ip_disabled';
  } else if (
    policy.trustedPrivateEndpointsRegex.length > 0 &&
    !matchesAny(url, policy.trustedPrivateEndpointsRegex)
  ) {
    privateRefusal = 'untrusted_private_endpoint';
  }
  // No copy per call: the agent's lookup takes its own snapshot (createGuardedLookup), and the
  // agent key is built from the contents.
  return { privateRefusal, restrictedIpPatterns: policy.restrictedIpPatterns };
}

/**
 * The URL to call when `url` names an origin this process serves itself (the demo provider), or
 * undefined. Built from the parsed parts, never a slice of the raw text: `http:/host` spells the
 * same origin shorter, and a slice once carried user info and another host past every check.
 */
export function builtInTarget(
  url: string,
  builtInOrigins: ReadonlyMap<string, string>,
): string | undefined {
  if (builtInOrigins.size === 0) return undefined;
  const parsed = parseEndpointUrl(url);
  const served = builtInOrigins.get(parsed.origin);
  if (served === undefined) return undefined;
  if (parsed.username !== '' || parsed.password !== '') {
    throw badRequest('Connector URL must not contain user info');
  }
  return `${served}${parsed.pathname}${parsed.search}`;
}

/**
 * The checks a call makes before any socket (settings may change between calls): the URL on the
 * allow-list, an IP literal in it allowed by the address rules. Returns the rules, which the
 * connect-time lookup applies to whatever a host name resolves to.
 */
export function checkCallEndpoint(url: string, policy: EndpointPolicy): AddressRules {
  checkTrustedEndpoint(url, policy.trustedEndpointsRegex);
  const rules = addressRules(url, policy);
  checkAddressLiteral(parseEndpointUrl(url), rules);
  return rules;
}

/** Whether the rules refuse anything, i.e. whether connections need the guarded lookup. */
export function refusesAddresses(rules: AddressRules): boolean {
  return rules.privateRefusal !== undefined || rules.restrictedIpPatterns.length > 0;
}

/**
 * A deny-list must not fail open: a pattern that does not compile restricts every address. The
 * settings API refuses such patterns, so this only guards values it never saw.
 */
function isRestrictedAddress(ip: string, patterns: readonly string[]): boolean {
  if (patterns.length === 0) return false;
  const texts = addressTexts(ip);
  return patterns.some((pattern) => {
    const compiled = compile(pattern);
    return compiled === null || texts.some((text) => compiled.test(text));
  });
}

/**
 * The ml-commons message refusing a host that resolves to these addresses, or `undefined`. The
 * order is ml-commons': restricted first (it holds even with private_ip_enabled true), then
 * private. Every address is judged, since the socket may pick any of them.
 */
function refusalFor(
  host: string,
  addresses: readonly string[],
  rules: AddressRules,
): string | undefined {
  if (addresses.some((address) => isRestrictedAddress(address, rules.restrictedIpPatterns))) {
    return restrictedAddressMessage(host);
  }
  if (rules.privateRefusal === undefined || !addresses.some(isDisallowedAddress)) return undefined;
  return rules.privateRefusal === 'private_ip_disabled'
    ? privateAddressMessage(host)
    : untrustedPrivateEndpointMessage;
}

/** The host of a parsed URL without the brackets WHATWG keeps around IPv6 literals. */
export function urlHost(parsed: URL): string {
  const host = parsed.hostname;
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * Refuses IP literals in the URL that the rules refuse. Sockets skip DNS for literals, so the
 * guarded lookup never sees them: this check is their only gate, and it runs on every call.
 */
export function checkAddressLiteral(parsed: URL, rules: AddressRules): void {
  const host = urlHost(parsed);
  if (isIP(host) === 0) return;
  const refusal = refusalFor(host, [host], rules);
  if (refusal !== undefined) throw badRequest(refusal);
}

/**
 * Resolves the URL's host and refuses it when the rules refuse any of its addresses
 * (connector-create time). Calls are guarded again at connect time by the lookup of the agent.
 *
 * With `allowUnresolved`, a host that does not resolve (yet, or not from this node) is let
 * through: a connector may be written before its endpoint is reachable, and the connect-time
 * guard still judges every address actually used.
 */
export async function checkEndpointAddress(
  url: string,
  policy: AddressPolicy,
  options: { allowUnresolved?: boolean; resolve?: HostResolver } = {},
): Promise<void> {
  const parsed = parseEndpointUrl(url);
  const rules = addressRules(url, policy);
  if (!refusesAddresses(rules)) return;
  checkAddressLiteral(parsed, rules);
  const host = urlHost(parsed);
  if (isIP(host) !== 0) return;
  const resolve = options.resolve ?? systemResolver;
  let addresses: LookupAddress[];
  try {
    addresses = await new Promise((fulfil, reject) => {
      resolve(host, { verbatim: true }, (error, found) =>
        error === null ? fulfil(found) : reject(error),
      );
    });
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
  const refusal =
    addresses.length === 0
      ? privateAddressMessage(host)
      : refusalFor(
          host,
          addresses.map((entry) => entry.address),
          rules,
        );
  if (refusal !== undefined) throw badRequest(refusal);
}

/**
 * A `lookup` for `net.connect`/`tls.connect` that resolves every address of the host and fails
 * the connect when the rules refuse any of them (a host with one public and one private address
 * is refused: the socket may pick either). It answers in whichever shape the caller asked for,
 * since Node's happy-eyeballs connect asks for `all: true` and the plain path does not.
 */
export function createGuardedLookup(
  rules: AddressRules,
  resolve: HostResolver = systemResolver,
): LookupFunction {
  const fixed: AddressRules = { ...rules, restrictedIpPatterns: [...rules.restrictedIpPatterns] };
  return (hostname, options, callback) => {
    resolve(hostname, options, (error, addresses) => {
      if (error !== null) {
        callback(error, options.all === true ? [] : '', 0);
        return;
      }
      const first = addresses[0];
      const refusal =
        first === undefined
          ? privateAddressMessage(hostname)
          : refusalFor(
              hostname,
              addresses.map((entry) => entry.address),
              fixed,
            );
      if (refusal !== undefined) {
        const refused = new RefusedAddressError(refusal) as NodeJS.ErrnoException;
        callback(refused, options.all === true ? [] : '', 0);
        return;
      }
      if (options.all === true) callback(null, addresses);
      else if (first !== undefined) callback(null, first.address, first.family);
    });
  };
}
