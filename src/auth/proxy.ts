/**
 * Reverse proxies (TRUST_PROXY): only a request that arrives from a listed address has its
 * Forwarded (RFC 7239) or X-Forwarded-* headers believed, both for the URLs the gateway builds
 * (RetrieveURL, BulkDataURI, the viewer's config) and for the client address that failed
 * authentications are counted against. Anyone else's headers are ignored.
 */
import net from 'node:net';
import type { IncomingMessage } from 'node:http';

/** What a trusted proxy says about the original request; absent fields were not given. */
export interface ForwardedRequest {
  proto?: 'http' | 'https';
  host?: string;
  /** A path prefix the proxy mounts the gateway under ("/pacs"), without a trailing slash. */
  prefix?: string;
}

/** The headers a URL built from them depends on, for `Vary`. */
export const FORWARDED_HEADERS = ['Forwarded', 'X-Forwarded-Proto', 'X-Forwarded-Host', 'X-Forwarded-Prefix'];

const HOST = /^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;
const PREFIX = /^(\/[\w.\-~]+)*$/;

function bare(address: string): string {
  return address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}

export class ProxyTrust {
  private readonly list = new net.BlockList();
  readonly enabled: boolean;

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address, bits] = entry.split('/');
      const family = net.isIPv6(address) ? 'ipv6' : 'ipv4';
      if (!net.isIP(address)) throw new Error(`configuration: TRUST_PROXY: "${entry}" is not an IP address`);
      if (bits === undefined) this.list.addAddress(address, family);
      else this.list.addSubnet(address, Number(bits), family);
    }
    this.enabled = entries.length > 0;
  }

  trusts(address: string | undefined): boolean {
    if (!this.enabled || !address) return false;
    const a = bare(address);
    return this.list.check(a, net.isIPv6(a) ? 'ipv6' : 'ipv4');
  }

  /** The proxy's account of the request, or undefined when it did not come through a trusted proxy. */
  forwarded(req: IncomingMessage): ForwardedRequest | undefined {
    if (!this.trusts(req.socket.remoteAddress)) return undefined;
    const first = String(req.headers.forwarded ?? '').split(',')[0];
    const field = (name: string) => new RegExp(`(?:^|;)\\s*${name}="?([^";]+)"?`, 'i').exec(first)?.[1]?.trim();
    const header = (name: string) => String(req.headers[name] ?? '').split(',')[0].trim() || undefined;
    const proto = (field('proto') ?? header('x-forwarded-proto'))?.toLowerCase();
    const host = field('host') ?? header('x-forwarded-host');
    const prefix = header('x-forwarded-prefix')?.replace(/\/+$/, '');
    // Only well-formed values go into URLs.
    return {
      proto: proto === 'http' || proto === 'https' ? proto : undefined,
      host: host && HOST.test(host) ? host : undefined,
      prefix: prefix !== undefined && PREFIX.test(prefix) ? prefix : undefined,
    };
  }

  /** The client's address: the socket's, or behind trusted proxies the last hop they did not add. */
  clientAddress(req: IncomingMessage): string {
    const socketAddress = bare(req.socket.remoteAddress ?? '');
    if (!this.trusts(socketAddress)) return socketAddress;
    const hops = String(req.headers['x-forwarded-for'] ?? '')
      .split(',')
      .map((h) => bare(h.trim()))
      .filter((h) => net.isIP(h));
    for (let i = hops.length - 1; i >= 0; i--) if (!this.trusts(hops[i])) return hops[i];
    return hops[0] ?? socketAddress;
  }
}
