import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Where webhooks may go. Tenants choose endpoint URLs, so without a guard a tenant could make the
 * dispatcher POST to the cloud metadata service, the cluster's own APIs or anything on loopback.
 * Every address a hostname resolves to is checked (at registration and again before each
 * connection, which is pinned to the checked address so a DNS change in between cannot swap it).
 * Loopback, link-local, private, CGNAT, unique-local and unspecified ranges are refused unless
 * an allow-list entry (WEBHOOK_ALLOWED_HOSTS: host names, IPs or CIDRs) names them.
 */
export interface AllowList {
  hosts: ReadonlySet<string>;
  addresses: BlockList;
  /** The raw entries, for messages. */
  entries: readonly string[];
}

const REFUSED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  REFUSED.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  REFUSED.addSubnet(net, prefix, 'ipv6');
}

/** Parses `host,10.0.0.0/8,::1` — throws on an entry that is neither a host name, an IP nor a CIDR. */
export function parseAllowList(raw: string): AllowList {
  const entries = raw.split(',').map((entry) => entry.trim().toLowerCase()).filter((entry) => entry !== '');
  const hosts = new Set<string>();
  const addresses = new BlockList();
  for (const entry of entries) {
    const [net, bits, extra] = entry.split('/');
    const family = isIP(net ?? '');
    if (family !== 0 && net !== undefined && extra === undefined) {
      const type = family === 4 ? 'ipv4' : 'ipv6';
      const prefix = bits === undefined ? (family === 4 ? 32 : 128) : Number(bits);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) throw new Error(`bad CIDR ${entry}`);
      addresses.addSubnet(net, prefix, type);
    } else if (/^[a-z0-9.-]+$/.test(entry) && bits === undefined) {
      hosts.add(entry);
    } else {
      throw new Error(`not a host name, IP or CIDR: ${entry}`);
    }
  }
  return { hosts, addresses, entries };
}

export const EMPTY_ALLOW_LIST: AllowList = parseAllowList('');

export type Destination =
  | { ok: true; address: string; family: 4 | 6 }
  | { ok: false; error: string };

/**
 * Resolves `url`'s host and returns the address to connect to, or why it is refused. An
 * allow-listed host name is trusted whatever it resolves to; otherwise every resolved address
 * must be public or allow-listed (one private answer among public ones is a rebinding attempt).
 */
export async function resolveDestination(url: URL, allow: AllowList, resolve: typeof lookup = lookup): Promise<Destination> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  let answers: { address: string; family: number }[];
  try {
    answers = isIP(host) !== 0 ? [{ address: host, family: isIP(host) }] : await resolve(host, { all: true, verbatim: true });
  } catch (err) {
    return { ok: false, error: `cannot resolve ${host}: ${err instanceof Error ? err.message : String(err)}` };
  }
  const first = answers[0];
  if (first === undefined) return { ok: false, error: `${host} resolves to no address` };
  const trustedHost = allow.hosts.has(host);
  for (const answer of answers) {
    if (trustedHost) break;
    const type = answer.family === 6 ? 'ipv6' : 'ipv4';
    const mapped = type === 'ipv6' ? ipv4Mapped(answer.address) : undefined;
    const checkAddress = mapped ?? answer.address;
    const checkType = mapped !== undefined ? 'ipv4' : type;
    if (REFUSED.check(checkAddress, checkType) && !allow.addresses.check(checkAddress, checkType)) {
      return { ok: false, error: `${host} resolves to ${answer.address}, a private, loopback or link-local address (allow it with WEBHOOK_ALLOWED_HOSTS)` };
    }
  }
  return { ok: true, address: first.address, family: first.family === 6 ? 6 : 4 };
}

// `::ffff:127.0.0.1` reaches 127.0.0.1: judge it as the IPv4 address it is.
function ipv4Mapped(address: string): string | undefined {
  const match = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return match?.[1];
}
