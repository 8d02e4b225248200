#!/usr/bin/env bash
# The AWS SDK for JavaScript v3 suite of the client compatibility tests.
# test/clients/run.sh calls it after pytest, with the server it started
# described in the CLIENTS_* environment variables (see replicator.test.mjs).
#
#   bash test/clients/js/run-js.sh
#
# Installs test/clients/js/package-lock.json (npm ci) when node_modules is
# missing or the lock file changed since the last install, then runs
# `node --test test/clients/js/`. The exit code is node's, except that a run
# in which no test ran is a failure (1). Needs Node 20 or newer.
set -euo pipefail

# shellcheck source=../../lib/suite.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/suite.sh"
suite_begin clients-js
DIR=test/clients/js

need_node
npm_ci "$DIR"
log "node $(node --version), @aws-sdk/client-kafka $(node -p "require('./$DIR/node_modules/@aws-sdk/client-kafka/package.json').version")"
node_tests "$DIR/"
