# The cluster's figures (`make bench`): bench/cluster.py, API latency on the etcd inventory
# beside SQLite's, and the etcd traffic of an idle cluster of 3 hosts x 100 VMs.

.PHONY: bench-cluster
bench: bench-cluster
bench-cluster: all
	@python3 bench/cluster.py
