// Validate an OpenAPI document with @apidevtools/swagger-parser (installed by mk/npm.sh into
// build/npm): its JSON-schema check of the OpenAPI 3.0 specification, then every $ref
// resolved. Usage: node tests/api/validate.mjs FILE. Exit 0 and "valid", or 1 and each
// problem on a line of its own (the JSON pointer of the place, and what is wrong).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, 'build', 'npm', 'package.json'));
const SwaggerParser = require('@apidevtools/swagger-parser');

try {
  const api = await SwaggerParser.validate(process.argv[2]);
  console.log(`valid: OpenAPI ${api.openapi}, ${Object.keys(api.paths).length} paths`);
} catch (e) {
  const details = Array.isArray(e.details) ? e.details : [];
  console.log(e.message.split('\n')[0]);
  for (const d of details)
    console.log(`  ${d.instancePath || '/'}: ${d.message}${d.params && d.params.additionalProperty !== undefined
      ? ` ('${d.params.additionalProperty}')` : ''}`);
  if (!details.length)
    console.log(e.message);
  process.exit(1);
}
