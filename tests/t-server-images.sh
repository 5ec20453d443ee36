#!/usr/bin/env bash
# The server's image store: uploads streamed to disk with their SHA-256 (PUT
# /api/v1/images/NAME), checksum and size refusals that keep nothing, dropped and concurrent
# uploads, kinds (ISO, VHD, qcow2, VMDK, VHDX, kernels), users and delete, a VHD disk made
# from an image as a task, permissions, the CLI, and the server's memory during a large upload.
exec python3 "$(dirname "$0")/server/images.py"
