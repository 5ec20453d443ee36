# The API document's tools (mk/npm.sh: the OpenAPI validator and the client generator of
# tests/server/openapi.py), installed into build/npm before `make test` runs the tests.
# `make api-check`: docs/api.yaml through the validator, and every response schema compiled
# by the answer checker of the server tests (a quick check while editing the document).
.PHONY: npm-tools api-check
test-prep: npm-tools
# (a failed install does not stop `make test`: t-server-openapi tries again and says why)
npm-tools:
	@bash mk/npm.sh || echo "npm-tools: not installed; t-server-openapi will try again" >&2
api-check:
	@bash mk/npm.sh
	@node tests/api/validate.mjs docs/api.yaml
	@python3 tests/server/openapi_check.py
