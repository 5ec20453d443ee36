#!/usr/bin/env bash
# Snapshot trees, clones and templates through the API with VMs that are off: data written,
# snapshots taken, reverted and deleted (a middle one merged), full and linked clones, the
# source of a linked clone deleted, templates, permissions; a running VM under KVM.
exec python3 "$(dirname "$0")/server/snapshots.py"
