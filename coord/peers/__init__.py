"""The gRPC Transport of a member: peer links, snapshot shipping, fault
injection (the doors peers call are in coord/rpc/peer_service.py)."""
