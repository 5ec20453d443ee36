# The API document's tools (mk/npm.sh: the OpenAPI validator and the client generator of
# tests/server/openapi.py), installed into build/npm before `make test` runs the tests.
.PHONY: npm-tools
test-prep: npm-tools
npm-tools:
	@bash mk/npm.sh
