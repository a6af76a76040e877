"""ZooKeeper's own client protocol (jute over TCP, SPEC §9): a door beside
the gRPC one, onto the same sessions (coord/session/), so that unmodified
ZooKeeper clients (kazoo, zkCli.sh, Curator) use coord."""
