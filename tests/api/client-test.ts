// A client generated from docs/api.yaml (as the server serves it) by @hey-api/openapi-ts,
// used as any program would: log in, list the VMs, start one. tests/server/openapi.py
// generates ./gen next to a copy of this file, type-checks both with tsc --strict (so the
// fields used here must be in the document's schemas) and runs the result:
//   node client-test.js BASE_URL USER PASSWORD VM
// It prints one JSON line with what each call answered.
import { client } from './gen/client.gen';
import { login, listVms, vmAction, getVmStatus } from './gen';

// node's globals used here (no @types/node needed)
declare const process: { argv: string[]; exit(code: number): never };

async function main(): Promise<void> {
  const [base, user, password, vm] = process.argv.slice(2);
  client.setConfig({ baseUrl: base });

  const lg = await login({ body: { user, password } });
  if (!lg.data)
    throw new Error(`login: ${lg.response.status} ${JSON.stringify(lg.error)}`);
  const token: string = lg.data.token;
  client.setConfig({ baseUrl: base, auth: () => token });

  const list = await listVms({ query: { limit: 100 } });
  if (!list.data)
    throw new Error(`listVms: ${list.response.status} ${JSON.stringify(list.error)}`);

  const started = await vmAction({ path: { name: vm, action: 'start' } });
  if (!started.data)
    throw new Error(`vmAction start: ${started.response.status} ${JSON.stringify(started.error)}`);

  const status = await getVmStatus({ path: { name: vm } });
  // An error answer arrives typed as the document's Error schema.
  const missing = await getVmStatus({ path: { name: 'no-such-vm' } });

  console.log(JSON.stringify({
    login: { status: lg.response.status, expires_in: lg.data.expires_in },
    list: { status: list.response.status, total: list.data.total,
            names: list.data.vms.map((v) => v.name) },
    start: { status: started.response.status, name: started.data.name,
             state: started.data.state, disks: started.data.disks },
    status: { status: status.response.status, state: status.data?.state },
    missing: { status: missing.response.status, code: missing.error?.error.code },
  }));
}

main().catch((e: unknown) => {
  console.error(String(e instanceof Error ? e.stack : e));
  process.exit(1);
});
