/** Every route express has registered on the gateway, with the guard that applies to it (the route crawlers read this). */
import type { GuardMark } from '../../src/auth/middleware';

export interface RegisteredRoute {
  method: string;
  path: string;
  guard?: GuardMark;
}

/** Every route of the app, with the guard that applies to it (its own, or its router's). */
export function registeredRoutes(app: unknown): RegisteredRoute[] {
  const out: RegisteredRoute[] = [];
  const walk = (stack: unknown[], prefix: string, inherited: GuardMark | undefined) => {
    let guard = inherited;
    for (const layer of stack as { route?: { path: unknown; methods: Record<string, boolean>; stack: { handle: GuardMark }[] }; handle: GuardMark & { stack?: unknown[] }; rawPath?: unknown }[]) {
      if (layer.route) {
        const own = layer.route.stack.map((l) => l.handle).find((h) => h.requiredRoles || h.publicBecause);
        for (const method of Object.keys(layer.route.methods)) out.push({ method: method.toUpperCase(), path: prefix + String(layer.route.path), guard: own ?? guard });
      } else if (layer.handle.stack) {
        walk(layer.handle.stack, prefix + (layer.rawPath === '/' ? '' : String(layer.rawPath)), guard);
      } else if (layer.handle.requiredRoles || layer.handle.publicBecause) {
        guard = layer.handle; // a router-level guard covers every route after it
      }
    }
  };
  walk((app as { router: { stack: unknown[] } }).router.stack, '', undefined);
  return out;
}
