"""One member's runtime: the stages a request passes through between the
doors (`coord.rpc`) and the pure core (`coord.tree`, `coord.paxos`)."""
