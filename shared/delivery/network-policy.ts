import { BlockList, isIP } from 'node:net';
import type { NetworkPolicy } from '../config';

export const STRICT_NETWORK_POLICY: NetworkPolicy = {
  allowLoopback: false,
  allowPrivate: false,
  allowHttp: false,
};

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

const nonPublic = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  nonPublic.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  nonPublic.addSubnet(network, prefix, 'ipv6');
}

/** Why a resolved address may not be connected to under `policy`, or undefined when it may. */
export function refusedAddressReason(address: string, policy: NetworkPolicy): string | undefined {
  const family = isIP(address);
  if (family === 0) return `"${address}" is not an IP address`;
  let type: 'ipv4' | 'ipv6' = family === 4 ? 'ipv4' : 'ipv6';
  let ip = address;
  // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) reaches the IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  // The URL parser writes it in hex (::ffff:7f00:1).
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (mapped) {
    ip = mapped[1];
    type = 'ipv4';
  } else if (hex) {
    const [high, low] = [Number.parseInt(hex[1], 16), Number.parseInt(hex[2], 16)];
    ip = [high >> 8, high & 255, low >> 8, low & 255].join('.');
    type = 'ipv4';
  }
  if (loopback.check(ip, type)) {
    return policy.allowLoopback
      ? undefined
      : `${address} is a loopback address, which this deployment does not allow`;
  }
  if (nonPublic.check(ip, type)) {
    return policy.allowPrivate
      ? undefined
      : `${address} is a private, link-local or reserved address, which this deployment does not allow`;
  }
  return undefined;
}

/**
 * Names that mean this machine by rule, whatever a resolver answers:
 * `localhost` and its subdomains (RFC 6761) and the names Linux's
 * /etc/hosts gives loopback. A trailing dot (the absolute form) changes nothing.
 */
const LOOPBACK_NAMES = new Set([
  'localhost',
  'localhost.localdomain',
  'localhost4',
  'localhost4.localdomain4',
  'localhost6',
  'localhost6.localdomain6',
  'ip6-localhost',
  'ip6-loopback',
]);

function isLoopbackName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.+$/, '');
  return LOOPBACK_NAMES.has(name) || name.endsWith('.localhost');
}

/**
 * Why a webhook URL is refused before any lookup: its scheme, credentials in
 * it, port 0, or a host that is a refused address or a loopback name. Names
 * are checked again, address by address, when the connection is made.
 */
export function refusedTargetReason(url: URL, policy: NetworkPolicy): string | undefined {
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) {
    return policy.allowHttp ? 'use an http: or https: URL' : 'a webhook must be an HTTPS URL (https://…)';
  }
  if (url.username || url.password) return 'a webhook URL may not carry credentials';
  if (url.port === '0') return 'port 0 is no port a server listens on; use 1 to 65535';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return refusedAddressReason(host, policy);
  if (isLoopbackName(host)) {
    return policy.allowLoopback
      ? undefined
      : `"${host}" names this machine (loopback), which this deployment does not allow`;
  }
  return undefined;
}
