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
  if (mapped) {
    ip = mapped[1];
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
 * Why a webhook URL is refused before any lookup: its scheme, credentials in
 * it, or a host that is a refused address or `localhost`. Names are checked
 * again, address by address, when the connection is made.
 */
export function refusedTargetReason(url: URL, policy: NetworkPolicy): string | undefined {
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) {
    return policy.allowHttp ? 'use an http: or https: URL' : 'a webhook must be an HTTPS URL (https://…)';
  }
  if (url.username || url.password) return 'a webhook URL may not carry credentials';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return refusedAddressReason(host, policy);
  if (host === 'localhost' || host.endsWith('.localhost')) return refusedAddressReason('127.0.0.1', policy);
  return undefined;
}
