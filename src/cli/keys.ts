/**
 * `veilgate keys add NAME --roles R[,R] --projects P[,P]`, `keys list`, `keys revoke NAME`: API
 * keys for AUTH=keys. The key is printed once, when it is made; the index keeps only its hash.
 * Works while the server runs (the same index, read on every request), on whichever backend
 * INDEX_URL names.
 */
import { Config } from '../config';
import { openBackends } from '../core/backends';
import { parseProjects, parseRoles } from '../auth/principal';

const USAGE = 'usage: veilgate keys add NAME --roles ingest,read,process,admin --projects P1,P2|* | keys list | keys revoke NAME';

export async function runKeysCommand(args: string[], config: Config, print: (line: string) => void): Promise<number> {
  const [verb, ...rest] = args;
  const backends = await openBackends(config.backends, config.dataDir);
  const keys = backends.keys;
  try {
    if (verb === 'add') {
      const [name, ...options] = rest;
      if (!name || name.startsWith('-')) throw new Error(USAGE);
      let roles: string | undefined;
      let projects: string | undefined;
      for (let i = 0; i < options.length; i++) {
        if (options[i] === '--roles' && options[i + 1]) roles = options[++i];
        else if (options[i] === '--projects' && options[i + 1]) projects = options[++i];
        else throw new Error(`unknown option "${options[i]}": ${USAGE}`);
      }
      const { key, record } = await keys.add(name, parseRoles(roles, 'keys add --roles'), parseProjects(projects, 'keys add --projects'));
      print(key);
      print(`key "${record.name}": roles ${record.roles.join(',')}; projects ${record.projects.join(',')}. This is the only time the key is shown.`);
      return 0;
    }
    if (verb === 'list' && rest.length === 0) {
      print('name\troles\tprojects\tcreated\trevoked');
      for (const k of await keys.list()) print([k.name, k.roles.join(','), k.projects.join(','), k.createdAt, k.revokedAt ?? ''].join('\t'));
      return 0;
    }
    if (verb === 'revoke' && rest.length === 1) {
      if (!(await keys.revoke(rest[0]))) throw new Error(`no key named "${rest[0]}" that is not revoked already`);
      print(`key "${rest[0]}" revoked`);
      return 0;
    }
    throw new Error(USAGE);
  } finally {
    await backends.close();
  }
}
